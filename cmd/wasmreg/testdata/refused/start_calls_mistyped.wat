;; start_calls_mistyped: its start function calls wasmreg.error imported with the wrong type.
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasmreg" "error" (func $error (param i32)))
  (func $start (call $error (i32.const 0)))
  (start $start)
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"start\",\"version\":\"1.0.0\"}")
  (func (export "wasmreg_info") (result i32)

    (call $output (i32.const 0) (i32.const 34))
    (i32.const 0))
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_build") (param i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param i32) (result i32) (i32.const 0)))
