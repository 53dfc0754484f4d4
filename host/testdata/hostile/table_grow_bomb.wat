;; table_grow_bomb: grows a table by 2^27 entries with a 128-byte request; succeeds only if the grow is refused
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"hostile-table-grow-bomb\",\"version\":\"1.0.0\",\"description\":\"grows a table by 2^27 entries with a 128-byte request; succeeds only if the grow is refused\",\"capabilities\":[]}")
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32) (call $output (i32.const 0) (i32.const 178)) (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32)
    (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (i32.ne (table.grow $t (ref.null func) (i32.const 0x8000000)) (i32.const -1)))
  (table $t 1 funcref)
)
