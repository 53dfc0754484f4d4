;; reach_stop_flag: lowers the globals a rewrite would append after its own one global, then loops
;; Regenerate with: wat2wasm --no-check reach_stop_flag.wat -o reach_stop_flag.wasm  (it is invalid on purpose; go generate skips it)
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"hostile-reach-stop-flag\",\"version\":\"1.0.0\",\"description\":\"lowers the globals a rewrite would append after its own one global, then loops\",\"capabilities\":[]}")
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32) (call $output (i32.const 0) (i32.const 165)) (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32)
    (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (call $spin) (i32.const 0))
  (global $own (mut i32) (i32.const 0))
  ;; global 1, 2 and 3 do not exist in this module: only a rewrite that
  ;; appends its stop flag, fuel and stack budget would make them valid
  (func $spin (loop $l
    (global.set 1 (i32.const 0))
    (global.set 2 (i32.const 0x7fffffff))
    (global.set 3 (i32.const 0x7fffffff))
    (br $l)))
)
