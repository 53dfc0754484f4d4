;; Every kind of exit, branch and bulk operation the rewrite changes or
;; charges, each export a function of one i32 to results the test compares
;; between the module and its rewrite.
(module
  (type $i2i (func (param i32) (result i32)))
  (type $pair (func (param i32) (result i32 i64)))
  (memory 1 2)
  (table $t 4 8 funcref)
  (table $u 4 funcref)
  (global $g (mut i32) (i32.const 7))
  (global $started (mut i32) (i32.const 0))
  (elem (table $t) (i32.const 0) func $double $square $ret_nested $br_fn)
  (elem $passive func $double $square)
  (data $d "hello, world")
  (start $start)

  (func $start (global.set $started (i32.const 42)))
  (func $double (type $i2i) (i32.mul (local.get 0) (i32.const 2)))
  (func $square (type $i2i) (i32.mul (local.get 0) (local.get 0)))

  ;; return from inside nested blocks, loops and ifs
  (func $ret_nested (export "ret_nested") (param $x i32) (result i32)
    (block
      (loop $l
        (if (i32.gt_u (local.get $x) (i32.const 5))
          (then (return (i32.add (local.get $x) (i32.const 100)))))
        (local.set $x (i32.add (local.get $x) (i32.const 2)))
        (br $l)))
    (i32.const -1))

  ;; br to the function's own label, from every depth
  (func $br_fn (export "br_fn") (param $x i32) (result i32)
    (block $b
      (drop (br_if 1 (i32.const 11) (i32.eqz (local.get $x))))
      (block
        (drop (br_if 2 (i32.const 22) (i32.eq (local.get $x) (i32.const 1))))))
    (i32.const 33))

  ;; br_table to blocks and to the function's label
  (func (export "br_table") (param $x i32) (result i32)
    (block $a (result i32)
      (block $b (result i32)
        (br_table $a $b 2 (i32.const 5) (local.get $x)))
      (i32.add (i32.const 10)))
    (i32.add (i32.const 20)))

  ;; multiple results, returned from inside a loop
  (func $multi (type $pair)
    (loop $l (result i32 i64)
      (if (i32.lt_u (local.get 0) (i32.const 3))
        (then (local.set 0 (i32.add (local.get 0) (i32.const 1))) (br $l)))
      (return (local.get 0) (i64.extend_i32_u (local.get 0)))))
  (func (export "multi") (param i32) (result i32)
    (call $multi (local.get 0))
    (i32.wrap_i64)
    (i32.add))
  (func (export "multi_direct") (type $pair) (call $multi (local.get 0)))

  ;; a return in unreachable code after another return, and in an else
  (func (export "dead_return") (param i32) (result i32)
    (if (result i32) (local.get 0)
      (then (return (i32.const 1)) (return (i32.const 2)))
      (else (i32.const 3) (return))))

  ;; loops with params and results
  (func (export "loop_params") (param i32) (result i32)
    (local.get 0)
    (loop $l (param i32) (result i32)
      (i32.add (i32.const 3))
      (local.tee 0)
      (br_if $l (i32.lt_u (local.get 0) (i32.const 20)))))

  ;; bulk memory: fill, copy, init, data.drop
  (func (export "bulk_memory") (param $n i32) (result i32)
    (memory.fill (i32.const 100) (i32.const 0x41) (i32.and (local.get $n) (i32.const 63)))
    (memory.copy (i32.const 200) (i32.const 100) (i32.const 64))
    (memory.init $d (i32.const 300) (i32.const 0) (i32.const 12))
    (data.drop $d)
    (i32.add (i32.load (i32.const 200)) (i32.load8_u (i32.const 304))))

  ;; bulk tables: init, copy, fill, and call_indirect through them
  (func (export "bulk_table") (param $x i32) (result i32)
    (table.init $u $passive (i32.const 0) (i32.const 0) (i32.const 2))
    (table.copy $t $u (i32.const 2) (i32.const 0) (i32.const 2))
    (table.fill $u (i32.const 2) (ref.null func) (i32.const 2))
    (i32.add
      (call_indirect $t (type $i2i) (local.get $x) (i32.const 2))
      (call_indirect $u (type $i2i) (local.get $x) (i32.const 1))))

  ;; call_indirect through the first table
  (func (export "indirect") (param $x i32) (result i32)
    (call_indirect $t (type $i2i) (i32.const 6) (i32.and (local.get $x) (i32.const 3))))

  ;; table.grow and memory.grow within their limits, and past them
  (func (export "grow") (param $n i32) (result i32)
    (i32.add
      (table.grow $t (ref.null func) (local.get $n))
      (i32.mul (memory.grow (local.get $n)) (i32.const 1000))))

  ;; globals, the start function's effect, select
  (func (export "globals") (param $x i32) (result i32)
    (global.set $g (i32.add (global.get $g) (local.get $x)))
    (select (global.get $g) (global.get $started) (local.get $x)))

  ;; recursion a few thousand frames deep
  (func $deep (export "deep") (param $d i32) (result i32)
    (if (result i32) (i32.eqz (local.get $d))
      (then (i32.const 0))
      (else (i32.add (call $deep (i32.sub (local.get $d) (i32.const 1))) (i32.const 1)))))

  ;; a trap of the guest's own
  (func (export "trap") (param i32) (result i32)
    (i32.div_u (i32.const 1) (local.get 0))))
