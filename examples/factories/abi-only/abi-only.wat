;; abi-only: a wasmreg factory written from docs/ABI.md alone (guest ABI v1),
;; in WAT, with no SDK, to check that the page is enough to write one.
;;
;; It takes no configuration (the build fails for anything but {}) and
;; answers each request, any bytes, with a JSON array of two numbers: the
;; request's length in bytes and the sum of its byte values, so "[1,2]" is
;; answered [5,327]. An empty request fails with an error message (code 3);
;; the model stays usable.
;;
;; Build (make examples does, into build/factories/abi-only.wasm):
;;   wat2wasm examples/factories/abi-only/abi-only.wat -o abi-only.wasm
;;   echo '[1,2]' | wasmreg run abi-only.wasm     # [5,327]
(module
  ;; §4.1: the imports every host provides.
  (import "wasmreg" "input"  (func $input  (param i32)))
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasmreg" "error"  (func $error  (param i32 i32)))
  (import "wasmreg" "log"    (func $log    (param i32 i32 i32)))

  ;; Memory: 0 the metadata (§5), 512.. messages, 1024..1100 the response
  ;; being written, 4096.. the call's input. It grows to hold the input.
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"abi-only\",\"version\":\"1.0.0\",\"description\":\"Answers each request with [its length in bytes, the sum of its bytes]; written from docs/ABI.md alone.\",\"config_schema\":{\"type\":\"object\",\"additionalProperties\":false},\"capabilities\":[\"log\"]}")
  (data (i32.const 512) "config: abi-only takes no configuration, want {}") ;; 48 bytes
  (data (i32.const 640) "request: empty, want any bytes") ;; 30 bytes
  (data (i32.const 704) "request: does not fit in memory") ;; 31 bytes
  (data (i32.const 768) "abi-only: built") ;; 15 bytes

  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))

  ;; §2: write the metadata with output, return 0.
  (func (export "wasmreg_info") (result i32)
    (call $output (i32.const 0) (i32.const 242)) ;; the metadata is 242 bytes
    (i32.const 0))

  ;; $reserve grows the memory to hold $len bytes of input at 4096; it
  ;; returns 0 if the memory cannot grow that far (§4.1: memory.grow gives -1).
  (func $reserve (param $len i32) (result i32)
    (local $pages i32)
    ;; ceil((4096 + len) / 65536), in i64 so that a large len cannot wrap
    (local.set $pages (i32.wrap_i64 (i64.shr_u
      (i64.add (i64.extend_i32_u (local.get $len)) (i64.const 69631)) (i64.const 16))))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then (return (i32.const 0))))))
    (i32.const 1))

  ;; §2, §3: the configuration is the call's input, len bytes of JSON.
  (func (export "wasmreg_build") (param $len i32) (result i32)
    (block $bad
      (br_if $bad (i32.ne (local.get $len) (i32.const 2)))
      (call $input (i32.const 4096))
      (br_if $bad (i32.ne (i32.load16_u (i32.const 4096)) (i32.const 0x7d7b))) ;; "{}" little-endian
      (call $log (i32.const 0) (i32.const 768) (i32.const 15)) ;; info
      (return (i32.const 0)))
    ;; §2 "Return codes and errors": error sets the message, non-zero fails.
    (call $error (i32.const 512) (i32.const 48))
    (i32.const 2))

  ;; $decimal writes n in decimal so that it ends just before $end and
  ;; returns where it starts.
  (func $decimal (param $n i64) (param $end i32) (result i32)
    (loop $digit
      (local.set $end (i32.sub (local.get $end) (i32.const 1)))
      (i32.store8 (local.get $end) (i32.wrap_i64 (i64.add (i64.const 48) (i64.rem_u (local.get $n) (i64.const 10)))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $n) (i64.const 0))))
    (local.get $end))

  ;; §2, §3: the request is the call's input; the response is what output
  ;; appends.
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (local $i i32) (local $sum i64) (local $p i32)
    (if (i32.eqz (local.get $len))
      (then
        (call $error (i32.const 640) (i32.const 30))
        (return (i32.const 3))))
    (if (i32.eqz (call $reserve (local.get $len)))
      (then
        (call $error (i32.const 704) (i32.const 31))
        (return (i32.const 4))))
    (call $input (i32.const 4096))
    (block $done
      (loop $byte
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $sum (i64.add (local.get $sum)
          (i64.extend_i32_u (i32.load8_u (i32.add (i32.const 4096) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $byte)))
    ;; "[" len "," sum "]", written backwards from 1100
    (i32.store8 (i32.const 1100) (i32.const 93)) ;; ]
    (local.set $p (call $decimal (local.get $sum) (i32.const 1100)))
    (local.set $p (i32.sub (local.get $p) (i32.const 1)))
    (i32.store8 (local.get $p) (i32.const 44)) ;; ,
    (local.set $p (call $decimal (i64.extend_i32_u (local.get $len)) (local.get $p)))
    (local.set $p (i32.sub (local.get $p) (i32.const 1)))
    (i32.store8 (local.get $p) (i32.const 91)) ;; [
    (call $output (local.get $p) (i32.sub (i32.const 1101) (local.get $p)))
    (i32.const 0)))
