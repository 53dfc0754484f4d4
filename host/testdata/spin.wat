;; spin: a factory whose predict counts to 2^26 in a loop, then logs a line
;; and divides by zero: long enough to pass a short call timeout, bounded,
;; and with an end that shows whether the call ran to it or was stopped on
;; the way, and whether the host still served an import after the deadline.
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasmreg" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"spin\",\"version\":\"1.0.0\",\"description\":\"counts to 2^26\",\"capabilities\":[]}")
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32) (call $output (i32.const 0) (i32.const 82)) (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (local $i i32) (local $zero i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 0x4000000))))
    (call $log (i32.const 0) (i32.const 0) (i32.const 6)) ;; {"name
    (i32.div_u (i32.const 1) (local.get $zero))))
