;; table_min_huge: declares a table of 20,000,000 entries
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"hostile-table-min-huge\",\"version\":\"1.0.0\",\"description\":\"declares a table of 20,000,000 entries\",\"capabilities\":[]}")
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32) (call $output (i32.const 0) (i32.const 124)) (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32)
    (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (i32.const 0))
  (table $t 20000000 funcref)
)
