;; init_error: reports why with error from _initialize, then traps: the
;; error import fails there, and the message is the failure's reason.
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasmreg" "error" (func $error (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"initerror\",\"version\":\"1.0.0\"}")
  (data (i32.const 64) "initerror: no weights compiled in")
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32)
    (call $output (i32.const 0) (i32.const 38))
    (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32) (i32.const 0))
  (func (export "_initialize")
    (call $error (i32.const 64) (i32.const 33))
    unreachable))
