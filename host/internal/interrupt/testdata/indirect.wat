;; The same loop-free recursion through call_indirect.
(module
  (type $t (func (param i32)))
  (table 1 1 funcref)
  (elem (i32.const 0) $f)
  (func $f (param $d i32)
    (if (i32.eqz (local.get $d)) (then (return)))
    (call_indirect (type $t) (i32.sub (local.get $d) (i32.const 1)) (i32.const 0))
    (call_indirect (type $t) (i32.sub (local.get $d) (i32.const 1)) (i32.const 0)))
  (func (export "run") (param $d i32) (result i32)
    (call $f (local.get $d))
    (i32.const 0)))
