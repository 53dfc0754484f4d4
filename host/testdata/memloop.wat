;; memloop: a factory whose predict never returns and writes all over its
;; memory while it runs, growing it as it goes: closing its model or its
;; host under the call must stop it without unmapping the memory it writes.
;; Regenerate with: go generate ./host  (wat2wasm from Debian's wabt)
(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  (memory (export "memory") 4)
  (data (i32.const 0) "{\"name\":\"memloop\",\"version\":\"1.0.0\"}")

  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_info") (result i32)
    (call $output (i32.const 0) (i32.const 36))
    (i32.const 0))
  (func (export "wasmreg_build") (param $len i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param $len i32) (result i32)
    (local $i i32)
    (loop $forever
      ;; one word in every 4 KiB page of the memory, round and round
      (i32.store (local.get $i) (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 4096)))
      (if (i32.ge_u (local.get $i) (i32.mul (memory.size) (i32.const 65536)))
        (then
          (local.set $i (i32.const 0))
          ;; grow by a page until 64 pages, so that grows run under closes too
          (if (i32.lt_u (memory.size) (i32.const 64))
            (then (drop (memory.grow (i32.const 1)))))))
      (br $forever))
    (i32.const 0)))
