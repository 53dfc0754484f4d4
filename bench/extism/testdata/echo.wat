;; echo: a minimal Extism plugin for the side-by-side benchmarks. It speaks
;; Extism's ABI (imports from the kernel module "extism:host/env") and its
;; export "echo" does what an Extism PDK does for input and output: copy the
;; call's input into linear memory (input_load_u64, then input_load_u8 for
;; the tail), allocate a block in the kernel's memory (alloc), copy the
;; bytes there (store_u64, store_u8) and make it the output (output_set).
;; At most 60 KiB; longer inputs return 1.
;;
;; Regenerate echo.wasm with (wabt):
;;   wat2wasm bench/extism/testdata/echo.wat -o bench/extism/testdata/echo.wasm
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)

  (func (export "echo") (result i32)
    (local $n i64) (local $i i64) (local $off i64)
    (local.set $n (call $input_length))
    (if (i64.gt_u (local.get $n) (i64.const 61440))
      (then (return (i32.const 1))))

    ;; the input, to memory[0..n)
    (block $in_words_done
      (loop $in_words
        (br_if $in_words_done (i64.gt_u (i64.add (local.get $i) (i64.const 8)) (local.get $n)))
        (i64.store (i32.wrap_i64 (local.get $i)) (call $input_load_u64 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 8)))
        (br $in_words)))
    (block $in_bytes_done
      (loop $in_bytes
        (br_if $in_bytes_done (i64.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (i32.wrap_i64 (local.get $i)) (call $input_load_u8 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $in_bytes)))

    ;; memory[0..n), to a new block of the kernel's memory
    (local.set $off (call $alloc (local.get $n)))
    (local.set $i (i64.const 0))
    (block $out_words_done
      (loop $out_words
        (br_if $out_words_done (i64.gt_u (i64.add (local.get $i) (i64.const 8)) (local.get $n)))
        (call $store_u64 (i64.add (local.get $off) (local.get $i)) (i64.load (i32.wrap_i64 (local.get $i))))
        (local.set $i (i64.add (local.get $i) (i64.const 8)))
        (br $out_words)))
    (block $out_bytes_done
      (loop $out_bytes
        (br_if $out_bytes_done (i64.ge_u (local.get $i) (local.get $n)))
        (call $store_u8 (i64.add (local.get $off) (local.get $i)) (i32.load8_u (i32.wrap_i64 (local.get $i))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $out_bytes)))

    (call $output_set (local.get $off) (local.get $n))
    (i32.const 0)))
