;; Loop-free recursion: f(d) calls f(d-1) twice, 2^d calls for depth d and
;; not one loop instruction. run(40) would take hours.
(module
  (func $f (param $d i32)
    (if (i32.eqz (local.get $d)) (then (return)))
    (call $f (i32.sub (local.get $d) (i32.const 1)))
    (call $f (i32.sub (local.get $d) (i32.const 1))))
  (func (export "run") (param $d i32) (result i32)
    (call $f (local.get $d))
    (i32.const 0)))
