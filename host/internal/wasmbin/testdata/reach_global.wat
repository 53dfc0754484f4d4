;; A module as issue 9's class 2 describes it: it defines one global and
;; uses globals 1 and 2, which only a rewrite's appended stop flag and
;; tick would give it. Decode must refuse it as written.
;; Regenerate: wat2wasm --no-check reach_global.wat -o reach_global.wasm
(module
  (global (mut i32) (i32.const 0))
  (func (export "f")
    (global.set 1 (i32.const 0))
    (global.set 2 (i32.const 0))))
