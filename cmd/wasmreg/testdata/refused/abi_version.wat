;; abi_version: imports a function ABI v1 does not have, and speaks ABI v2.
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasmreg" "frobnicate" (func (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"two\",\"version\":\"1.0.0\"}")
  (func (export "wasmreg_info") (result i32)

    (call $output (i32.const 0) (i32.const 32))
    (i32.const 0))
  (func (export "wasmreg_abi_version") (result i32) (i32.const 2))
  (func (export "wasmreg_build") (param i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param i32) (result i32) (i32.const 0)))
