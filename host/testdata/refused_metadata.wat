;; refused_metadata: imports wasmreg.frobnicate, which ABI v1 does not have,
;; and its metadata has two problems: what Validate lists together.
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasmreg" "frobnicate" (func $f (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"refused\",\"version\":\"1.0\",\"capabilities\":[\"teleport\"]}")
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32)
    (call $output (i32.const 0) (i32.const 62))
    (i32.const 0))
  (func (export "wasmreg_build") (param i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param i32) (result i32) (i32.const 0)))
