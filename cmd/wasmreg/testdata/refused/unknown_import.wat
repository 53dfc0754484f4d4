;; unknown_import: imports a function ABI v1 does not have, and its metadata has two problems.
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasmreg" "frobnicate" (func (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"frob\",\"version\":\"1.0\",\"licence\":\"MIT\"}")
  (func (export "wasmreg_info") (result i32)

    (call $output (i32.const 0) (i32.const 47))
    (i32.const 0))
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_build") (param i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param i32) (result i32) (i32.const 0)))
