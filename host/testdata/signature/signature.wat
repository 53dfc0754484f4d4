;; signature: echo.wat declaring a tensor signature (docs/ABI.md §5): input
;; "x" FP32 [-1, 2], outputs "label" INT64 [-1] and "scores" FP32 [-1, 2]. It
;; answers every request with its config, so the config picks the response.
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "input"  (func $input  (param i32)))
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasmreg" "error"  (func $error  (param i32 i32)))
  (memory (export "memory") 1)
  ;; metadata at 0, the saved config at 1024
  (data (i32.const 0) "{\"name\":\"sigecho\",\"version\":\"1.0.0\",\"description\":\"answers with its config; declares a tensor signature\",\"tensors\":{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[-1,2]}],\"outputs\":[{\"name\":\"label\",\"datatype\":\"INT64\",\"shape\":[-1]},{\"name\":\"scores\",\"datatype\":\"FP32\",\"shape\":[-1,2]}]}}")
  (global $cfg_len (mut i32) (i32.const 0))

  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32)
    (call $output (i32.const 0) (i32.const 286)) ;; the metadata is 286 bytes
    (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32)
    (if (i32.gt_u (local.get $len) (i32.const 16384))
      (then (return (i32.const 1)))) ;; fails with "returned code 1"
    (call $input (i32.const 1024))
    (global.set $cfg_len (local.get $len))
    (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (call $output (i32.const 1024) (global.get $cfg_len))
    (i32.const 0)))
