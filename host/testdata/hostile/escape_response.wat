;; escape_response: answers with terminal escapes, C1 and bidi controls
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\22name\22:\22hostile-escape-response\22,\22version\22:\221.0.0\22,\22description\22:\22answers with terminal escapes, C1 and bidi controls\22,\22capabilities\22:[]}")
  ;; ESC[2J (clear screen), OSC 0 (window title), ESC[31m (red), C1 CSI as
  ;; UTF-8 and as a raw byte, RLO, LRI, DEL
  (data (i32.const 1024) "\1b[2J\1b]0;pwned\07\1b[31mred\c2\9b2J\9b\e2\80\aeevil\e2\81\a6x\7f")
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32) (call $output (i32.const 0) (i32.const 138)) (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32)
    (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (call $output (i32.const 1024) (i32.const 39)) (i32.const 0)))
