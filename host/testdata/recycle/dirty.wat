;; dirty: a factory that tries to leave state behind for the next model
;; built from its instance, for the recycling tests (recycle_internal_test.go),
;; which dress it up as a Go guest so that the host snapshots it. Its
;; requests, by their first byte:
;;   l  look: answer a digest of the whole memory, memory.size and every
;;      global, as the instance sees them;
;;   d  dirty: grow the memory by 5 pages, write every byte of it, set
;;      every global;
;;   s  spin: write all over memory, for ever (timeouts, closes under a call);
;;   t  trap: write half the memory, then trap;
;;   f  close stdout through WASI (state the host cannot reset).
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasmreg" "input"  (func $input  (param i32)))
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "{\"name\":\"dirty\",\"version\":\"1.0.0\"}")
  (global $a (mut i32) (i32.const 0))
  (global $b (mut i64) (i64.const 0))
  (global $c (mut f32) (f32.const 0))
  (global $d (mut f64) (f64.const 0))

  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32)
    (call $output (i32.const 0) (i32.const 34))
    (i32.const 0))
  ;; _initialize leaves a pattern in memory and values in the globals: the
  ;; state a reset must bring back.
  (func (export "_initialize")
    (local $i i32)
    (local.set $i (i32.const 1024))
    (loop $fill
      (i32.store8 (local.get $i) (i32.mul (local.get $i) (i32.const 31)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 131072))))
    (global.set $a (i32.const 7))
    (global.set $b (i64.const 0x0102030405060708))
    (global.set $c (f32.const 1.5))
    (global.set $d (f64.const 2.5)))
  (func (export "wasmreg_build") (param $len i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (local $op i32)
    (if (i32.eqz (local.get $len)) (then (return (i32.const 1))))
    (call $input (i32.const 512))
    (local.set $op (i32.load8_u (i32.const 512)))
    (if (i32.eq (local.get $op) (i32.const 0x6c)) (then (return (call $look))))
    (if (i32.eq (local.get $op) (i32.const 0x64)) (then (return (call $dirty))))
    (if (i32.eq (local.get $op) (i32.const 0x73)) (then (call $spin)))
    (if (i32.eq (local.get $op) (i32.const 0x74))
      (then
        (memory.fill (i32.const 0) (i32.const 0xee) (i32.mul (memory.size) (i32.const 32768)))
        (unreachable)))
    (if (i32.eq (local.get $op) (i32.const 0x66))
      (then (drop (call $fd_close (i32.const 1))) (return (i32.const 0))))
    (i32.const 2))

  (func $look (result i32)
    (local $i i32) (local $h i32) (local $end i32)
    (local.set $h (i32.const 0x811c9dc5))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (loop $words
      (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load (local.get $i))) (i32.const 16777619)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $words (i32.lt_u (local.get $i) (local.get $end))))
    ;; the answer, after the digest is taken: digest, pages, a, b, c, d
    (i32.store (i32.const 600) (local.get $h))
    (i32.store (i32.const 604) (memory.size))
    (i32.store (i32.const 608) (global.get $a))
    (i64.store (i32.const 612) (global.get $b))
    (f32.store (i32.const 620) (global.get $c))
    (f64.store (i32.const 624) (global.get $d))
    (call $output (i32.const 600) (i32.const 32))
    (i32.const 0))

  (func $dirty (result i32)
    (drop (memory.grow (i32.const 5)))
    (memory.fill (i32.const 0) (i32.const 0xab) (i32.mul (memory.size) (i32.const 65536)))
    (global.set $a (i32.const -1))
    (global.set $b (i64.const -1))
    (global.set $c (f32.const -3.25))
    (global.set $d (f64.const -1e300))
    (i32.const 0))

  (func $spin
    (local $i i32)
    (loop $forever
      (i32.store (local.get $i) (local.get $i))
      (local.set $i (i32.rem_u (i32.add (local.get $i) (i32.const 4096)) (i32.const 131072)))
      (br $forever))))
