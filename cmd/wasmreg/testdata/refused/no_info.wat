;; no_info: imports a function ABI v1 does not have and exports no
;; wasmreg_info: there is no metadata to read.
(module
  (import "wasmreg" "frobnicate" (func (param i32)))
  (memory (export "memory") 1)
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_build") (param i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param i32) (result i32) (i32.const 0)))
