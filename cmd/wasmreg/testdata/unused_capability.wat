;; unused_capability: a valid factory whose metadata lists the random
;; capability without importing random_fill or random_seed, and that exports
;; _start; `wasmreg validate` passes it with a warning for each.
;; Regenerate with: wat2wasm unused_capability.wat -o unused_capability.wasm
(module
  (import "wasmreg" "input" (func $input (param i32)))
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"Unused\",\"version\":\"0.1.0\",\"description\":\"lists random, never uses it\",\"config_schema\":{\"type\":\"object\"},\"capabilities\":[\"random\"]}")
  (func (export "_start"))
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32)
    (call $output (i32.const 0) (i32.const 139))
    (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (call $input (i32.const 1024))
    (call $output (i32.const 1024) (local.get $len))
    (i32.const 0)))
