;; missing_exports: exports neither wasmreg_abi_version nor wasmreg_predict, and its name is bad.
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))

  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"bad name!\",\"version\":\"1.0.0\"}")
  (func (export "wasmreg_info") (result i32)

    (call $output (i32.const 0) (i32.const 38))
    (i32.const 0))
  (func (export "wasmreg_build") (param i32) (result i32) (i32.const 0)))
