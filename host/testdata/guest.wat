;; testguest: a WAT factory that exercises every import of ABI v1, driven by
;; its config and requests. Regenerate guest.wasm with:
;;   wat2wasm guest.wat -o guest.wasm   (or: go generate ./host)
;; Build config: JSON; a JSON string selects a behaviour by its first letter:
;;   "Fail" error message, "Code" code 5 without message, "Trap" unreachable,
;;   "Loop" infinite loop, "Seed" seeds random with 42 and keeps 16 bytes.
;; Predict request: first byte selects (see the br_table below); other bytes
;; echo the config followed by the request.
(module
  (import "wasmreg" "input" (func $input (param i32)))
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasmreg" "error" (func $error (param i32 i32)))
  (import "wasmreg" "log" (func $log (param i32 i32 i32)))
  (import "wasmreg" "clock_now" (func $clock_now (result i64)))
  (import "wasmreg" "clock_monotonic" (func $clock_mono (result i64)))
  (import "wasmreg" "random_fill" (func $random_fill (param i32 i32)))
  (import "wasmreg" "random_seed" (func $random_seed (param i64)))
  (import "wasmreg" "artifact_size" (func $artifact_size (param i32 i32) (result i64)))
  (import "wasmreg" "artifact_read" (func $artifact_read (param i32 i32 i64 i32 i32) (result i64)))
  (memory (export "memory") 4)
  (data (i32.const 0) "{\"name\":\"testguest\",\"version\":\"1.2.3\",\"description\":\"exercises every import of ABI v1\",\"config_schema\":{\"type\":[\"object\",\"string\"]},\"capabilities\":[\"log\",\"clock\",\"random\",\"artifact\"]}")
  (data (i32.const 1024) "weights")
  (data (i32.const 1040) "bad config")
  (data (i32.const 1056) "bad request")
  (data (i32.const 1072) "no artifact")
  (data (i32.const 1100) "initialized")
  (data (i32.const 1120) "spam line")
  (global $cfg_len (mut i32) (i32.const 0))
  (global $counter (mut i32) (i32.const 0))
  (global $inited (mut i32) (i32.const 0))

  (func (export "_initialize")
    (global.set $inited (i32.const 1))
    (call $log (i32.const -4) (i32.const 1100) (i32.const 11)))

  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))

  (func (export "wasmreg_info") (result i32)
    (call $output (i32.const 0) (i32.const 183))
    (i32.const 0))

  (func $loop (loop $l (br $l)))
  (func $recurse (param i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))

  (func (export "wasmreg_build") (param $len i32) (result i32)
    (local $op i32)
    (if (i32.eqz (global.get $inited)) (then unreachable))
    (if (i32.gt_u (local.get $len) (i32.const 4096)) (then (return (i32.const 3))))
    (call $input (i32.const 4096))
    (global.set $cfg_len (local.get $len))
    (if (i32.lt_u (local.get $len) (i32.const 2)) (then (return (i32.const 0))))
    (if (i32.ne (i32.load8_u (i32.const 4096)) (i32.const 34)) (then (return (i32.const 0))))
    (local.set $op (i32.load8_u (i32.const 4097)))
    (if (i32.eq (local.get $op) (i32.const 70)) ;; F
      (then (call $error (i32.const 1040) (i32.const 10)) (return (i32.const 1))))
    (if (i32.eq (local.get $op) (i32.const 67)) ;; C
      (then (return (i32.const 5))))
    (if (i32.eq (local.get $op) (i32.const 84)) ;; T
      (then unreachable))
    (if (i32.eq (local.get $op) (i32.const 76)) ;; L
      (then (call $loop)))
    (if (i32.eq (local.get $op) (i32.const 83)) ;; S
      (then (call $random_seed (i64.const 42)) (call $random_fill (i32.const 2048) (i32.const 16))))
    (i32.const 0))

  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (local $op i32) (local $i i32) (local $n i64)
    (if (i32.gt_u (local.get $len) (i32.const 131072)) (then (return (i32.const 3))))
    (call $input (i32.const 65536))
    (if (i32.eqz (local.get $len)) (then (local.set $op (i32.const 0)))
      (else (local.set $op (i32.load8_u (i32.const 65536)))))
    ;; e: error with message
    (if (i32.eq (local.get $op) (i32.const 101))
      (then (call $error (i32.const 1056) (i32.const 11)) (return (i32.const 2))))
    ;; c: code without message
    (if (i32.eq (local.get $op) (i32.const 99)) (then (return (i32.const 9))))
    ;; t: trap
    (if (i32.eq (local.get $op) (i32.const 116)) (then unreachable))
    ;; l: infinite loop
    (if (i32.eq (local.get $op) (i32.const 108)) (then (call $loop)))
    ;; o: output out of bounds
    (if (i32.eq (local.get $op) (i32.const 111))
      (then (call $output (i32.const -16) (i32.const 100)) (return (i32.const 0))))
    ;; i: input out of bounds
    (if (i32.eq (local.get $op) (i32.const 105))
      (then (call $input (i32.const 262140)) (return (i32.const 0))))
    ;; b: output bomb
    (if (i32.eq (local.get $op) (i32.const 98))
      (then (loop $l (call $output (i32.const 0) (i32.const 65536)) (br $l))))
    ;; g: 5000 log lines
    (if (i32.eq (local.get $op) (i32.const 103))
      (then
        (local.set $i (i32.const 0))
        (loop $l
          (call $log (i32.const 0) (i32.const 1120) (i32.const 9))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 5000))))
        (return (i32.const 0))))
    ;; r: 16 random bytes
    (if (i32.eq (local.get $op) (i32.const 114))
      (then (call $random_fill (i32.const 8192) (i32.const 16))
            (call $output (i32.const 8192) (i32.const 16)) (return (i32.const 0))))
    ;; s: seed 7, 16 random bytes
    (if (i32.eq (local.get $op) (i32.const 115))
      (then (call $random_seed (i64.const 7))
            (call $random_fill (i32.const 8192) (i32.const 16))
            (call $output (i32.const 8192) (i32.const 16)) (return (i32.const 0))))
    ;; S: the 16 bytes the "Seed" build kept
    (if (i32.eq (local.get $op) (i32.const 83))
      (then (call $output (i32.const 2048) (i32.const 16)) (return (i32.const 0))))
    ;; k: clock_now as 8 bytes LE
    (if (i32.eq (local.get $op) (i32.const 107))
      (then (i64.store (i32.const 8192) (call $clock_now))
            (call $output (i32.const 8192) (i32.const 8)) (return (i32.const 0))))
    ;; m: clock_monotonic as 8 bytes LE
    (if (i32.eq (local.get $op) (i32.const 109))
      (then (i64.store (i32.const 8192) (call $clock_mono))
            (call $output (i32.const 8192) (i32.const 8)) (return (i32.const 0))))
    ;; a: the artifact "weights" (at most 64 KiB)
    (if (i32.eq (local.get $op) (i32.const 97))
      (then
        (local.set $n (call $artifact_size (i32.const 1024) (i32.const 7)))
        (if (i64.lt_s (local.get $n) (i64.const 0))
          (then (call $error (i32.const 1072) (i32.const 11)) (return (i32.const 4))))
        (if (i64.gt_u (local.get $n) (i64.const 65536)) (then (local.set $n (i64.const 65536))))
        (local.set $n (call $artifact_read (i32.const 1024) (i32.const 7) (i64.const 0)
                        (i32.const 131072) (i32.wrap_i64 (local.get $n))))
        (call $output (i32.const 131072) (i32.wrap_i64 (local.get $n)))
        (return (i32.const 0))))
    ;; n: per-instance counter, 4 bytes LE
    (if (i32.eq (local.get $op) (i32.const 110))
      (then (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
            (i32.store (i32.const 8192) (global.get $counter))
            (call $output (i32.const 8192) (i32.const 4)) (return (i32.const 0))))
    ;; d: division by zero
    (if (i32.eq (local.get $op) (i32.const 100))
      (then (return (i32.div_u (i32.const 1) (i32.sub (local.get $len) (local.get $len))))))
    ;; x: unbounded recursion
    (if (i32.eq (local.get $op) (i32.const 120))
      (then (return (call $recurse (i32.const 0)))))
    ;; G: grow memory by 2000 pages, output the i32 result
    (if (i32.eq (local.get $op) (i32.const 71))
      (then (i32.store (i32.const 8192) (memory.grow (i32.const 2000)))
            (call $output (i32.const 8192) (i32.const 4)) (return (i32.const 0))))
    ;; default: echo config then request
    (call $output (i32.const 4096) (global.get $cfg_len))
    (call $output (i32.const 65536) (local.get $len))
    (i32.const 0)))
