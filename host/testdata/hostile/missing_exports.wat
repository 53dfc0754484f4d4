;; missing_exports: exports neither wasmreg_build nor wasmreg_predict
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"hostile-missing-exports\",\"version\":\"1.0.0\",\"description\":\"exports neither wasmreg_build nor wasmreg_predict\",\"capabilities\":[]}")
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32) (call $output (i32.const 0) (i32.const 136)) (i32.const 0)))
