;; memory.fill of the whole 64 MiB memory, in a loop, until stopped. init
;; touches every page once first: the first touch of a page is a page
;; fault, once per page, bounded by the memory limit, not by the checks.
(module
  (memory 1024 1024)
  (func (export "init") (param i32) (result i32)
    (memory.fill (i32.const 0) (i32.const 0) (i32.const 0x4000000))
    (i32.const 0))
  (func (export "run") (param i32) (result i32)
    (loop $forever
      (memory.fill (i32.const 0) (local.get 0) (i32.const 0x4000000))
      (br $forever))
    (unreachable)))
