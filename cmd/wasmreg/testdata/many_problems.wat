;; many_problems: breaks ABI v1 in six ways at once, so that the tests can
;; check that `wasmreg validate` reports every problem, not just the first.
;; Regenerate with: wat2wasm many_problems.wat -o many_problems.wasm
(module
  (import "wasmreg" "frobnicate" (func (param i32)))     ;; 1. not part of ABI v1
  (import "wasmreg" "output" (func (param i32)))         ;; 2. output has the wrong type
  (import "env" "abort" (func))                          ;; 3. module env is not provided
  (memory 1)                                             ;; 4. memory is not exported
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32) (i32.const 0))
  (func (export "wasmreg_build") (result i32) (i32.const 0)))  ;; 5. build has the wrong type
                                                         ;; 6. wasmreg_predict is missing
