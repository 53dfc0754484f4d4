;; imports_memory: imports its memory, which no stub can stand in for:
;; there is no metadata to read.
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "env" "memory" (memory 1))
  (data (i32.const 0) "{}")
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32)
    (call $output (i32.const 0) (i32.const 2))
    (i32.const 0))
  (func (export "wasmreg_build") (param i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param i32) (result i32) (i32.const 0)))
