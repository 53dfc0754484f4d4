package interrupt

import "github.com/wasmreg/wasmreg/host/internal/wasmbin"

// Fuel units are about a nanosecond of the slowest case of each
// instruction, measured with wazero v1.12 on the 2-core Xeon wasmreg is
// developed on (weights_test.go, TestMeasureWeights, prints the figures):
// the counters must bound time whatever a hostile guest chooses to run, so
// each instruction is charged what it costs when it is as slow as it can
// be, not on average. Ordinary code is thus charged 10 to 100 times its
// real time, which only makes it return to Go more often: a return costs
// 27 ns, so with the default Period a guest charged 100 times its time
// still spends under 0.03% in them.
const (
	// Structure with no machine code of its own, and moves: block, loop,
	// end, else, nop, drop, local.get/set/tee.
	costFree = 0
	// One ALU instruction: 0.25 ns measured.
	costALU = 1
	// A conditional branch, mispredicted: a random br_if took 7 ns with
	// the code computing its condition.
	costBranch = 8
	// An indirect jump, mispredicted: a random br_table took 15 ns.
	costBrTable = 20
	// Integer division: 3.7 ns (i32), 6.3 ns (i64).
	costDiv = 8
	// Floating-point multiplication, division, square root, rounding and
	// conversion between widths, whose subnormal operands take a
	// microcode assist: 42 ns (f32.mul), 67 ns (f64.mul), 76 ns (f64.div),
	// 71 ns (f64x2.mul) on subnormals, against 0.8 ns normally.
	costFloatSlow = 80
	// A load or store that misses every cache and the TLB: a chase of
	// dependent pointers through 64 MiB took 183 ns a load in a random
	// order, 300 ns in the order of testdata/chase.wat (and up to 2 µs
	// while other processes loaded the machine's memory).
	costMemory = 400
	// A direct call and return: 2.2 ns; the callee charges its own body.
	costCall = 5
	// call_indirect reads the table entry and the function's type, two
	// dependent accesses that may each miss like costMemory.
	costCallIndirect = 2 * costMemory
	// memory.grow and table.grow run Go code (and return to Go): 55 ns
	// measured for memory.grow of 0 pages.
	costGrow = 100
	// A SIMD instruction that is neither a memory access nor slow on
	// subnormals: some lower to a few machine instructions.
	costSIMD = 4
	// Truncation of a float to an integer, with wazero's range checks.
	costTrunc = 4
)

// Dynamic charges of the bulk operations, per unit of their length: a
// 64 MiB memory.fill took 0.17 ns a byte, memory.copy 0.23; table.fill and
// table.copy of 10 M entries 2.8 and 2.9 ns an entry. The length is
// shifted right by bulkMemoryShift (1/4 unit a byte) or left by
// bulkTableShift (4 units an entry).
const (
	bulkMemoryShift = 2
	bulkTableShift  = 2
)

// Charges of the checks themselves.
const (
	costEntryCheck = 10 // three loads of hot globals, two stores, a branch
	costLoopCheck  = 6
	costBulkCheck  = 8
	costRestore    = 3
)

// weight returns the fuel an instruction costs at its slowest, its bulk
// operations' length aside.
func weight(op wasmbin.Op) uint32 {
	switch {
	case op&wasmbin.OpSIMD == wasmbin.OpSIMD:
		return simdWeight(byte(op))
	case op&wasmbin.OpMisc == wasmbin.OpMisc:
		return miscWeight(uint32(op &^ wasmbin.OpMisc))
	}
	switch b := byte(op); {
	case b == 0x00, b == 0x01, b == 0x02, b == 0x03, b == 0x05, b == 0x0b, // unreachable, nop, block, loop, else, end
		b == 0x1a, b >= 0x20 && b <= 0x22: // drop, local.get/set/tee
		return costFree
	case b == 0x04, b == 0x0d: // if, br_if
		return costBranch
	case b == 0x0e: // br_table
		return costBrTable
	case b == 0x10:
		return costCall
	case b == 0x11:
		return costCallIndirect
	case b == 0x1b, b == 0x1c: // select: a conditional move
		return 2 * costALU
	case b == 0x25, b == 0x26, // table.get, table.set
		b >= 0x28 && b <= 0x3e: // loads and stores
		return costMemory
	case b == 0x40: // memory.grow
		return costGrow
	case b >= 0x6d && b <= 0x70, b >= 0x7f && b <= 0x82: // i32, i64 div and rem
		return costDiv
	case b >= 0x8d && b <= 0x91, b >= 0x94 && b <= 0x95, // f32 ceil floor trunc nearest sqrt, mul div
		b >= 0x9b && b <= 0x9f, b >= 0xa2 && b <= 0xa3, // f64 likewise
		b == 0xb6, b == 0xbb: // f32.demote_f64, f64.promote_f32
		return costFloatSlow
	case b >= 0xa8 && b <= 0xb1: // float to integer truncations
		return costTrunc
	}
	return costALU
}

func miscWeight(sub uint32) uint32 {
	switch {
	case sub <= 7: // saturating truncations
		return costTrunc
	case sub == 8, sub == 10, sub == 11, sub == 12, sub == 14, sub == 17: // memory.init/copy/fill, table.init/copy/fill
		return costMemory // and their length, charged by bulkCheck
	case sub == 15: // table.grow
		return costGrow
	}
	return costALU // data.drop, elem.drop, table.size
}

func simdWeight(sub byte) uint32 {
	switch {
	case sub <= 0x0b, sub >= 0x54 && sub <= 0x5d: // loads, stores, lane loads and stores, load zero
		return costMemory
	case sub == 0x5e, sub == 0x5f, // f32x4.demote_f64x2_zero, f64x2.promote_low_f32x4
		sub >= 0x67 && sub <= 0x6a, sub == 0x74, sub == 0x75, sub == 0x7a, sub == 0x94, // ceil floor trunc nearest
		sub == 0xe3, sub == 0xe6, sub == 0xe7, // f32x4 sqrt mul div
		sub == 0xef, sub == 0xf2, sub == 0xf3: // f64x2 sqrt mul div
		return costFloatSlow
	}
	return costSIMD
}

// bulk reports whether op is a bulk operation charged by its length, and
// whether that length counts table entries (else bytes).
func bulk(op wasmbin.Op) (isBulk, table bool) {
	switch op {
	case wasmbin.OpMemoryInit, wasmbin.OpMemoryCopy, wasmbin.OpMemoryFill:
		return true, false
	case wasmbin.OpTableInit, wasmbin.OpTableCopy, wasmbin.OpTableFill:
		return true, true
	}
	return false, false
}
