;; wasi_fs: tries to open /etc/passwd through WASI; returns the errno as its code
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (data (i32.const 2048) "/etc/passwd")
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"hostile-wasi-fs\",\"version\":\"1.0.0\",\"description\":\"tries to open /etc/passwd through WASI; returns the errno as its code\",\"capabilities\":[]}")
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32) (call $output (i32.const 0) (i32.const 148)) (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32)
    (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (call $path_open (i32.const 3) (i32.const 0) (i32.const 2048) (i32.const 11) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 4096))))
