;; roundtrip: the wasmreg counterpart of echo.wat for the side-by-side call
;; benchmark. Its wasmreg_predict does the same work as echo's "echo":
;; copy the request into linear memory (input) and answer with those bytes
;; (output). At most 60 KiB; longer requests return 1. (host/testdata/echo.wat
;; answers with its config and never reads the request.)
;;
;; Regenerate roundtrip.wasm with (wabt):
;;   wat2wasm bench/extism/testdata/roundtrip.wat -o bench/extism/testdata/roundtrip.wasm
(module
  (import "wasmreg" "input" (func $input (param i32)))
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (memory (export "memory") 1)
  ;; metadata at 0 (79 bytes); the request at 1024
  (data (i32.const 0) "{\"name\":\"roundtrip\",\"version\":\"1.0.0\",\"description\":\"answers with the request\"}")

  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32)
    (call $output (i32.const 0) (i32.const 79))
    (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (if (i32.gt_u (local.get $len) (i32.const 61440))
      (then (return (i32.const 1))))
    (call $input (i32.const 1024))
    (call $output (i32.const 1024) (local.get $len))
    (i32.const 0)))
