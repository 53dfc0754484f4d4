;; oob_artifact_name: passes an out-of-bounds name to artifact_size
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasmreg" "artifact_size" (func $artifact_size (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"hostile-oob-artifact-name\",\"version\":\"1.0.0\",\"description\":\"passes an out-of-bounds name to artifact_size\",\"capabilities\":[\"artifact\"]}")
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32) (call $output (i32.const 0) (i32.const 144)) (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32)
    (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (drop (call $artifact_size (i32.const -8) (i32.const 64))) (i32.const 0)))
