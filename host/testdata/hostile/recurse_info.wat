;; recurse_info: calls itself twice with depth - 1 (2^60 calls, no loop) in wasmreg_info
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"name\":\"hostile-recurse-info\",\"version\":\"1.0.0\",\"description\":\"calls itself twice with depth - 1 (2^60 calls, no loop) in wasmreg_info\",\"capabilities\":[]}")
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32) (drop (call $f (i32.const 60))) (call $output (i32.const 0) (i32.const 155)) (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32)
    (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (i32.const 0))
  ;; 2^d calls for depth d, and no loop anywhere
  (func $f (param $d i32) (result i32)
    (if (result i32) (i32.eqz (local.get $d))
      (then (i32.const 1))
      (else (i32.add
        (call $f (i32.sub (local.get $d) (i32.const 1)))
        (call $f (i32.sub (local.get $d) (i32.const 1)))))))
)
