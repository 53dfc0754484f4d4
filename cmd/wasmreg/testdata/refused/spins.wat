;; spins: imports a function ABI v1 does not have, and its wasmreg_info never returns.
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasmreg" "frobnicate" (func (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"spin\",\"version\":\"1.0.0\"}")
  (func (export "wasmreg_info") (result i32)
    (loop $forever (br $forever))
    (call $output (i32.const 0) (i32.const 33))
    (i32.const 0))
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_build") (param i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param i32) (result i32) (i32.const 0)))
