package interrupt

import "github.com/wasmreg/wasmreg/host/internal/wasmbin"

// The check sequences, one `if` each. wazero keeps a global's value in a
// register within a straight run of code (its SSA builder's
// FindValueInLinearPath): a global.get right after a global.set of the same
// global costs no load, so the sequences read back what they store rather
// than keep it in a local. The alternatives were measured side by side
// (sequences_test.go; TestMeasureCosts, fastest of 150 rounds, against no
// check): for a loop header, ours 1.51x on a loop of 1e6 cheap iterations,
// the old pair of ifs 1.65x, fuel alone without the flag 1.48x, the value
// kept in a local (local.tee) 1.51x, the sign tested by i32.shr_u 31
// 1.62x; for a function entry, on fib(25), ours 2.00x, adding Ws back at
// exit instead of restoring the saved value 2.15x, both counters in one
// i64 2.33x, fuel alone 1.73x. What costs is the chain through memory from
// one counter update to the next, not the instructions.

// indices are the index spaces' entries the rewrite adds.
type indices struct {
	stop, fuel, stack uint32 // globals
	yields            uint32 // the tests' count of returns to Go, if Options.countYields
	yield             uint32 // table
	slow              uint32 // function
}

const (
	opUnreachable = 0x00
	opIf          = 0x04
	opEnd         = 0x0b
	opBr          = 0x0c
	opCall        = 0x10
	opDrop        = 0x1a
	opLocalGet    = 0x20
	opLocalTee    = 0x22
	opGlobalGet   = 0x23
	opGlobalSet   = 0x24
	opI32Const    = 0x41
	opI32LtS      = 0x48
	opI32Add      = 0x6a
	opI32Sub      = 0x6b
	opI32Or       = 0x72
	opI32Shl      = 0x74
	opI32ShrU     = 0x76
	opRefNull     = 0xd0
	opPrefixMisc  = 0xfc
	blockEmpty    = 0x40
	refFunc       = 0x70
)

func globalGet(b []byte, g uint32) []byte { return wasmbin.AppendU32(append(b, opGlobalGet), g) }
func globalSet(b []byte, g uint32) []byte { return wasmbin.AppendU32(append(b, opGlobalSet), g) }
func i32Const(b []byte, v int32) []byte   { return wasmbin.AppendS32(append(b, opI32Const), v) }

// charge appends `global.get $g; i32.const w; i32.sub; global.set $g`.
func (x *indices) charge(b []byte, g, w uint32) []byte {
	b = globalGet(b, g)
	b = i32Const(b, int32(w))
	b = append(b, opI32Sub)
	return globalSet(b, g)
}

// slowIf appends `i32.const 0; i32.lt_s; if; call $slow; end`.
func (x *indices) slowIf(b []byte) []byte {
	b = i32Const(b, 0)
	b = append(b, opI32LtS, opIf, blockEmpty, opCall)
	b = wasmbin.AppendU32(b, x.slow)
	return append(b, opEnd)
}

// entryCheck appends a function's entry check:
//
//	global.get $stack
//	local.tee $saved       ;; the budget at entry, which every exit restores
//	i32.const Ws
//	i32.sub
//	global.set $stack      ;; stack -= Ws: the frame's estimated bytes
//	global.get $fuel
//	i32.const Wf
//	i32.sub
//	global.set $fuel       ;; fuel -= Wf: the most the body costs to its next check
//	global.get $fuel       ;; no load: the values just stored
//	global.get $stack
//	i32.or
//	global.get $stop
//	i32.or
//	i32.const 0
//	i32.lt_s               ;; fuel, stack or stop negative?
//	if
//	  call $slow           ;; trap, or return to Go and refill
//	end
//
// Restoring the saved value (restore) rather than adding Ws back spares
// each exit a load and an add: fib(25), 243k calls, ran 15% faster so.
func (x *indices) entryCheck(b []byte, fuel, stack, saved uint32) []byte {
	b = globalGet(b, x.stack)
	b = wasmbin.AppendU32(append(b, opLocalTee), saved)
	b = i32Const(b, int32(stack))
	b = append(b, opI32Sub)
	b = globalSet(b, x.stack)
	b = x.charge(b, x.fuel, fuel)
	b = globalGet(b, x.fuel)
	b = globalGet(b, x.stack)
	b = append(b, opI32Or)
	b = globalGet(b, x.stop)
	b = append(b, opI32Or)
	return x.slowIf(b)
}

// loopCheck appends a loop header's check, also used as a checkpoint:
//
//	global.get $fuel
//	i32.const Wl
//	i32.sub
//	global.set $fuel       ;; fuel -= Wl: the most an iteration costs to its next check
//	global.get $fuel
//	global.get $stop
//	i32.or
//	i32.const 0
//	i32.lt_s
//	if
//	  call $slow
//	end
func (x *indices) loopCheck(b []byte, fuel uint32) []byte {
	b = x.charge(b, x.fuel, fuel)
	b = globalGet(b, x.fuel)
	b = globalGet(b, x.stop)
	b = append(b, opI32Or)
	return x.slowIf(b)
}

// bulkCheck appends the check before a bulk operation, whose length is on
// top of the operand stack, in local scratch afterwards:
//
//	local.tee $scratch     ;; the length, left for the operation
//	global.get $fuel
//	local.get $scratch
//	i32.const 2
//	i32.shr_u              ;; bytes: 1/4 unit each (i32.shl for table entries: 4 units)
//	i32.sub
//	global.set $fuel
//	global.get $fuel
//	global.get $stop
//	i32.or
//	i32.const 0
//	i32.lt_s
//	if
//	  call $slow
//	end
//
// A length of 2^30 entries or more wraps the table charge, but traps
// before doing any work: no table has more than MaxTableLimit entries.
func (x *indices) bulkCheck(b []byte, scratch uint32, table bool) []byte {
	b = wasmbin.AppendU32(append(b, opLocalTee), scratch)
	b = globalGet(b, x.fuel)
	b = wasmbin.AppendU32(append(b, opLocalGet), scratch)
	if table {
		b = i32Const(b, bulkTableShift)
		b = append(b, opI32Shl)
	} else {
		b = i32Const(b, bulkMemoryShift)
		b = append(b, opI32ShrU)
	}
	b = append(b, opI32Sub)
	b = globalSet(b, x.fuel)
	b = globalGet(b, x.fuel)
	b = globalGet(b, x.stop)
	b = append(b, opI32Or)
	return x.slowIf(b)
}

// restore appends the stack restore every exit of a function passes,
// `local.get $saved; global.set $stack`.
func (x *indices) restore(b []byte, saved uint32) []byte {
	b = wasmbin.AppendU32(append(b, opLocalGet), saved)
	return globalSet(b, x.stack)
}

// slowBody appends the body of $slow, locals included:
//
//	(func $slow
//	  global.get $stop
//	  i32.const 0
//	  i32.lt_s
//	  if                   ;; the host raised the flag
//	    unreachable
//	  end
//	  global.get $stack
//	  i32.const 0
//	  i32.lt_s
//	  if                   ;; the call's stack passed its budget
//	    unreachable
//	  end
//	  ref.null func
//	  i32.const 0
//	  table.grow $yield    ;; grow by nothing: a return to Go, where a
//	  drop                 ;; stop-the-world waiting for us proceeds
//	  i32.const Period
//	  global.set $fuel)
//
// table.grow is the cheapest return to Go wazero offers a module without
// imports: 27 ns measured, including the return.
func (x *indices) slowBody(b []byte, period uint32, countYields bool) []byte {
	b = append(b, 0) // no locals
	for _, g := range []uint32{x.stop, x.stack} {
		b = globalGet(b, g)
		b = i32Const(b, 0)
		b = append(b, opI32LtS, opIf, blockEmpty, opUnreachable, opEnd)
	}
	b = append(b, opRefNull, refFunc)
	b = i32Const(b, 0)
	b = wasmbin.AppendU32(append(b, opPrefixMisc), 15) // table.grow
	b = wasmbin.AppendU32(b, x.yield)
	b = append(b, opDrop)
	b = i32Const(b, int32(period))
	b = globalSet(b, x.fuel)
	if countYields { // global.get $yields; i64.const 1; i64.add; global.set $yields
		b = append(globalGet(b, x.yields), 0x42, 1, 0x7c)
		b = globalSet(b, x.yields)
	}
	return append(b, opEnd)
}
