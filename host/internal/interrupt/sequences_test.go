package interrupt

import (
	"context"
	"strings"
	"testing"
)

// The alternatives to the check sequences (checks.go) that were measured,
// written out by hand in WAT: a loop of 1e6 iterations and fib(25), each
// with no check, with the old loop check, with this package's sequences
// and with the variants.

const seqPrelude = `
 (global $stop (mut i32) (i32.const 0))
 (global $fuel (mut i32) (i32.const 5000000))
 (global $stack (mut i32) (i32.const 8000000))
 (global $g64 (mut i64) (i64.const 0x000F000000989680))
 (table $y 0 0 funcref)
 (func $slow
   (if (i32.lt_s (global.get $stop) (i32.const 0)) (then unreachable))
   (if (i32.lt_s (global.get $stack) (i32.const 0)) (then unreachable))
   (drop (table.grow $y (ref.null func) (i32.const 0)))
   (global.set $fuel (i32.const 5000000)))
 (func $slow64
   (if (i32.lt_s (global.get $stop) (i32.const 0)) (then unreachable))
   (if (i64.lt_s (global.get $g64) (i64.const 0)) (then unreachable))
   (drop (table.grow $y (ref.null func) (i32.const 0)))
   (global.set $g64 (i64.or (i64.and (i64.add (global.get $g64) (i64.const 0x80000000)) (i64.const 0xFFFFFFFF00000000)) (i64.const 5000000))))
`

// seqLoops are loop header checks.
var seqLoops = []struct{ name, check string }{
	{"none", ``},
	{"old", `(if (global.get $stop) (then unreachable))
	 (global.set $stack (i32.add (global.get $stack) (i32.const 1)))
	 (if (i32.eqz (i32.and (global.get $stack) (i32.const 65535))) (then (drop (table.grow $y (ref.null func) (i32.const 0)))))`},
	{"ours", `(global.set $fuel (i32.sub (global.get $fuel) (i32.const 7)))
	 (if (i32.lt_s (i32.or (global.get $fuel) (global.get $stop)) (i32.const 0)) (then (call $slow)))`},
	{"fuel-only", `(global.set $fuel (i32.sub (global.get $fuel) (i32.const 7)))
	 (if (i32.lt_s (global.get $fuel) (i32.const 0)) (then (call $slow)))`},
	{"tee", `(global.set $fuel (local.tee $t (i32.sub (global.get $fuel) (i32.const 7))))
	 (if (i32.lt_s (i32.or (local.get $t) (global.get $stop)) (i32.const 0)) (then (call $slow)))`},
	{"shr", `(global.set $fuel (i32.sub (global.get $fuel) (i32.const 7)))
	 (if (i32.shr_u (i32.or (global.get $fuel) (global.get $stop)) (i32.const 31)) (then (call $slow)))`},
}

// seqEntries are function entry checks and the exit code to match.
var seqEntries = []struct{ name, entry, exit string }{
	{"none", ``, ``},
	{"ours", `(global.set $stack (i32.sub (local.tee $s (global.get $stack)) (i32.const 448)))
	 (global.set $fuel (i32.sub (global.get $fuel) (i32.const 38)))
	 (if (i32.lt_s (i32.or (i32.or (global.get $fuel) (global.get $stack)) (global.get $stop)) (i32.const 0)) (then (call $slow)))`,
		`(global.set $stack (local.get $s))`},
	{"add-back", `(global.set $fuel (i32.sub (global.get $fuel) (i32.const 38)))
	 (global.set $stack (i32.sub (global.get $stack) (i32.const 448)))
	 (if (i32.lt_s (i32.or (i32.or (global.get $fuel) (global.get $stack)) (global.get $stop)) (i32.const 0)) (then (call $slow)))`,
		`(global.set $stack (i32.add (global.get $stack) (i32.const 448)))`},
	{"no-stack", `(global.set $fuel (i32.sub (global.get $fuel) (i32.const 38)))
	 (if (i32.lt_s (i32.or (global.get $fuel) (global.get $stop)) (i32.const 0)) (then (call $slow)))`, ``},
	{"one-i64", `(global.set $g64 (i64.sub (global.get $g64) (i64.const 0x000001c000000026)))
	 (if (i64.ne (i64.and (i64.or (global.get $g64) (i64.extend_i32_u (global.get $stop))) (i64.const 0x8000000080000000)) (i64.const 0)) (then (call $slow64)))`,
		`(global.set $g64 (i64.add (global.get $g64) (i64.const 0x000001c000000000)))`},
}

func seqLoopModule(check string) string {
	return `(module ` + seqPrelude + `
 (func (export "f") (param $n i32) (result i32) (local $i i32) (local $s i32) (local $t i32)
    (loop $l ` + check + `
      (local.set $s (i32.add (local.get $s) (i32.mul (local.get $i) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $s)))`
}

func seqFibModule(entry, exit string) string {
	return `(module ` + seqPrelude + `
 (func $fib (export "f") (param $n i32) (result i32) (local $s i32) ` + entry + `
   (block (result i32)
    (if (i32.lt_u (local.get $n) (i32.const 2)) (then (br 1 (local.get $n))))
    (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1))) (call $fib (i32.sub (local.get $n) (i32.const 2)))))
   ` + exit + `))`
}

// BenchmarkCheckSequences: the loop header check and the function entry
// check, and the alternatives measured.
func BenchmarkCheckSequences(b *testing.B) {
	run := func(b *testing.B, wat string, arg uint64) {
		f := instantiate(b, newRuntime(b), watToWasm(b, wat)).ExportedFunction("f")
		ctx := context.Background()
		for b.Loop() {
			if _, err := f.Call(ctx, arg); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, v := range seqLoops {
		b.Run("loop="+v.name, func(b *testing.B) { run(b, seqLoopModule(v.check), 1_000_000) })
	}
	for _, v := range seqEntries {
		b.Run("entry="+v.name, func(b *testing.B) { run(b, seqFibModule(v.entry, v.exit), 25) })
	}
}

// TestCheckSequencesAgree: every variant computes what the unchecked code
// does, so that the benchmark compares like with like.
func TestCheckSequencesAgree(t *testing.T) {
	ctx := context.Background()
	call := func(wat string, arg uint64) uint64 {
		res, err := instantiate(t, newRuntime(t), watToWasm(t, wat)).ExportedFunction("f").Call(ctx, arg)
		if err != nil {
			t.Fatalf("%s: %v", strings.SplitN(wat, "\n", 2)[0], err)
		}
		return res[0]
	}
	want := call(seqLoopModule(""), 1000)
	for _, v := range seqLoops {
		if got := call(seqLoopModule(v.check), 1000); got != want {
			t.Errorf("loop=%s: %d, want %d", v.name, got, want)
		}
	}
	want = call(seqFibModule("", ""), 15)
	for _, v := range seqEntries {
		if got := call(seqFibModule(v.entry, v.exit), 15); got != want {
			t.Errorf("entry=%s: %d, want %d", v.name, got, want)
		}
	}
}
