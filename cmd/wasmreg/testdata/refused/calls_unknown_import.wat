;; calls_unknown_import: imports env.abort (as AssemblyScript does without --use abort=...), and its wasmreg_info calls it.
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"as\",\"version\":\"1.0.0\"}")
  (func (export "wasmreg_info") (result i32)
    (call $abort (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 1))
    (call $output (i32.const 0) (i32.const 31))
    (i32.const 0))
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_build") (param i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param i32) (result i32) (i32.const 0)))
