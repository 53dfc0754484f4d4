;; budget/fail: traps in its start function while the host serves an
;; artifact named "start", and in _initialize while it serves one named
;; "init", so that a test can make the builds after a successful Load fail
;; at instantiation or in _initialize. Declares a maximum of 2 pages.
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "input"  (func $input  (param i32)))
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasmreg" "artifact_size" (func $artifact_size (param i32 i32) (result i64)))
  (memory (export "memory") 1 2)
  (data (i32.const 0) "{\"name\":\"budgetfail\",\"version\":\"1.0.0\"}")
  (data (i32.const 100) "start")
  (data (i32.const 110) "init")
  (func $start
    (if (i64.ge_s (call $artifact_size (i32.const 100) (i32.const 5)) (i64.const 0))
      (then unreachable)))
  (start $start)
  (func (export "_initialize")
    (if (i64.ge_s (call $artifact_size (i32.const 110) (i32.const 4)) (i64.const 0))
      (then unreachable)))
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32)
    (call $output (i32.const 0) (i32.const 39))
    (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32)
    (call $input (i32.const 1024))
    (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (i32.const 0)))
