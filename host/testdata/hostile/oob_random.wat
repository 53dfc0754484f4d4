;; oob_random: passes an out-of-bounds pointer to random_fill
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasmreg" "random_fill" (func $random_fill (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"hostile-oob-random\",\"version\":\"1.0.0\",\"description\":\"passes an out-of-bounds pointer to random_fill\",\"capabilities\":[\"random\"]}")
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32) (call $output (i32.const 0) (i32.const 136)) (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32)
    (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (call $random_fill (i32.const -8) (i32.const 64)) (i32.const 0)))
