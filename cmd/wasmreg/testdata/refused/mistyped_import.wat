;; mistyped_import: imports wasmreg.log with the wrong type, and its metadata asks for an unknown capability.
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasmreg" "log" (func (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"logger\",\"version\":\"1.0.0\",\"capabilities\":[\"teleport\"]}")
  (func (export "wasmreg_info") (result i32)

    (call $output (i32.const 0) (i32.const 63))
    (i32.const 0))
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_build") (param i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param i32) (result i32) (i32.const 0)))
