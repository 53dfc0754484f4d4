;; escape_description: metadata whose description and config schema carry terminal escapes, C1 and bidi controls
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\22name\22:\22hostile-escape-description\22,\22version\22:\221.0.0\22,\22description\22:\22\5cu001b[2J\5cu001b]0;pwned\5cu0007\c2\9b31m\e2\80\aeevil\5cu2028x\5cu0085\5cu202e\22,\22config_schema\22:{\22type\22:\22object\22,\22title\22:\22\5cu001b[31m\e2\81\a6\22,\22properties\22:{\22\e2\80\aekey\22:{\22type\22:\22string\22,\22description\22:\22\5cu009b2J\22}}},\22capabilities\22:[]}")
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32) (call $output (i32.const 0) (i32.const 275)) (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32)
    (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (i32.const 0)))
