;; A chase of dependent pointers through 64 MiB: init links every 32-bit
;; word i to (5·i + 12345) mod 2^24, a linear congruential generator of
;; full period, so that run visits the words in a pseudo-random order,
;; each load missing the caches; run chases until stopped.
(module
  (memory 1024 1024)
  (func (export "init") (param i32) (result i32) (local $i i32)
    (loop $l
      (i32.store (i32.shl (local.get $i) (i32.const 2))
        (i32.and (i32.add (i32.mul (local.get $i) (i32.const 5)) (i32.const 12345)) (i32.const 0xffffff)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 0x1000000))))
    (i32.const 0))
  (func (export "run") (param $p i32) (result i32)
    (loop $forever
      (local.set $p (i32.load (i32.shl (local.get $p) (i32.const 2))))
      (br $forever))
    (unreachable)))
