;; bad_schema: a factory whose config_schema is not a valid JSON Schema
;; ("integer-ish" is no type); `wasmreg validate` says so, with the pointer.
;; Regenerate with: wat2wasm bad_schema.wat -o bad_schema.wasm
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"badschema\",\"version\":\"1.0.0\",\"description\":\"a config_schema the host refuses\",\"config_schema\":{\"type\":\"object\",\"properties\":{\"layers\":{\"type\":\"integer-ish\"}}}}")
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32)
    (call $output (i32.const 0) (i32.const 168))
    (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32) (i32.const 0)))
