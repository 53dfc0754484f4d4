;; mistyped_wasi: imports WASI's fd_write with the wrong type; its metadata is right.
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"wasi\",\"version\":\"1.0.0\",\"description\":\"d\",\"config_schema\":{\"type\":\"object\"}}")
  (func (export "wasmreg_info") (result i32)

    (call $output (i32.const 0) (i32.const 85))
    (i32.const 0))
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_build") (param i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param i32) (result i32) (i32.const 0)))
