;; escape_error: fails every request with an error message full of terminal escapes
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (import "wasmreg" "error" (func $error (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\22name\22:\22hostile-escape-error\22,\22version\22:\221.0.0\22,\22description\22:\22fails every request with an error message full of terminal escapes\22,\22capabilities\22:[]}")
  (data (i32.const 1024) "bad \1b[2J\1b]0;pwned\07 \c2\9b31m \e2\80\ae \ff\0d\0asecond line")
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32) (call $output (i32.const 0) (i32.const 150)) (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32)
    (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (call $error (i32.const 1024) (i32.const 43)) (i32.const 3)))
