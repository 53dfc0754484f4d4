;; mistyped_export: exports wasmreg_build with the wrong type, and its tensor signature has problems.
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))

  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"sig\",\"version\":\"1.0.0\",\"tensors\":{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP99\",\"shape\":[-2]}],\"outputs\":[{\"datatype\":\"FP32\",\"shape\":[1]}]}}")
  (func (export "wasmreg_info") (result i32)

    (call $output (i32.const 0) (i32.const 143))
    (i32.const 0))
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_build") (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param i32) (result i32) (i32.const 0)))
