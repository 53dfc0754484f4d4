;; slowecho: echo (host/testdata/echo.wat) that counts to 2^28 before each
;; answer, so that requests are still running when a test signals or
;; reloads the server. Regenerate with: wat2wasm slowecho.wat (Debian's wabt)
(module
  (import "wasmreg" "input"  (func $input  (param i32)))
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (memory (export "memory") 1)
  ;; metadata at 0, the saved config at 1024
  (data (i32.const 0) "{\"name\":\"slowecho\",\"version\":\"1.0.0\",\"description\":\"answers slowly with its config\"}")
  (global $cfg_len (mut i32) (i32.const 0))

  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32)
    (call $output (i32.const 0) (i32.const 84))
    (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32)
    (if (i32.gt_u (local.get $len) (i32.const 16384))
      (then (return (i32.const 1))))
    (call $input (i32.const 1024))
    (global.set $cfg_len (local.get $len))
    (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 0x10000000))))
    (call $output (i32.const 1024) (global.get $cfg_len))
    (i32.const 0)))
