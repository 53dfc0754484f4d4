;; clock_start: reads the clock in its start function and logs, at level
;; error, that it did: a host that lets it shows "observed the clock".
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasmreg" "log" (func $log (param i32 i32 i32)))
  (import "wasmreg" "clock_now" (func $now (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"clockstart\",\"version\":\"1.0.0\",\"description\":\"reads the clock in its start function\",\"capabilities\":[\"clock\"]}")
  (data (i32.const 1024) "observed the clock")
  (global $t (mut i64) (i64.const 0))
  (func $start
    (global.set $t (call $now))
    (call $log (i32.const 8) (i32.const 1024) (i32.const 18)))
  (start $start)
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32) (call $output (i32.const 0) (i32.const 118)) (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32)
    (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (i32.const 0)))
