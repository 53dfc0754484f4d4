;; A module that calls through table 1 when it has only table 0: the
;; index a rewrite's yield table would take.
;; Regenerate: wat2wasm --no-check reach_table.wat -o reach_table.wasm
(module
  (type $v (func))
  (table 1 funcref)
  (func (export "f")
    (call_indirect 1 (type $v) (i32.const 0))))
