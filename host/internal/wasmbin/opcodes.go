package wasmbin

// What the reader needs to know of each SIMD (0xfd) opcode of
// CoreFeaturesV2, from wazero v1.12's func_validation.go: its immediates
// and how many values it pops and pushes. wazero reads the sub-opcode as
// one byte, not a LEB128 (see Reader.Next).
type simdOp struct {
	kind   uint8 // simdInvalid for an opcode wazero does not know
	pops   uint8
	pushes uint8
	align  uint8 // memory instructions: log2 of the largest alignment
	lanes  uint8 // lane instructions: the number of lanes
}

const (
	simdInvalid = iota
	simdPlain
	simdMem     // memarg
	simdMemLane // memarg, lane
	simdLane    // lane
	simdConst   // 16 bytes
	simdShuffle // 16 lane indices < 32
)

var simdOps [256]simdOp

func init() {
	set := func(kind, pops, pushes uint8, ops ...byte) {
		for _, o := range ops {
			simdOps[o] = simdOp{kind: kind, pops: pops, pushes: pushes}
		}
	}
	span := func(lo, hi byte) []byte {
		var s []byte
		for o := int(lo); o <= int(hi); o++ {
			s = append(s, byte(o))
		}
		return s
	}
	mem := func(kind, pops, pushes, align, lanes uint8, o byte) {
		simdOps[o] = simdOp{kind: kind, pops: pops, pushes: pushes, align: align, lanes: lanes}
	}
	// Loads and stores.
	mem(simdMem, 1, 1, 4, 0, 0x00)
	for _, o := range span(0x01, 0x06) {
		mem(simdMem, 1, 1, 3, 0, o)
	}
	mem(simdMem, 1, 1, 0, 0, 0x07)
	mem(simdMem, 1, 1, 1, 0, 0x08)
	mem(simdMem, 1, 1, 2, 0, 0x09)
	mem(simdMem, 1, 1, 3, 0, 0x0a)
	mem(simdMem, 1, 1, 2, 0, 0x5c)
	mem(simdMem, 1, 1, 3, 0, 0x5d)
	mem(simdMem, 2, 0, 4, 0, 0x0b)
	for i, o := range span(0x54, 0x57) { // load lane
		mem(simdMemLane, 2, 1, uint8(i), 16>>i, o)
	}
	for i, o := range span(0x58, 0x5b) { // store lane
		mem(simdMemLane, 2, 0, uint8(i), 16>>i, o)
	}
	simdOps[0x0c] = simdOp{kind: simdConst, pushes: 1}
	simdOps[0x0d] = simdOp{kind: simdShuffle, pops: 2, pushes: 1}
	// Lanes: extract pops the vector, replace the vector and the scalar.
	for o, lanes := range map[byte]uint8{0x15: 16, 0x16: 16, 0x18: 8, 0x19: 8, 0x1b: 4, 0x1d: 2, 0x1f: 4, 0x21: 2} {
		simdOps[o] = simdOp{kind: simdLane, pops: 1, pushes: 1, lanes: lanes}
	}
	for o, lanes := range map[byte]uint8{0x17: 16, 0x1a: 8, 0x1c: 4, 0x1e: 2, 0x20: 4, 0x22: 2} {
		simdOps[o] = simdOp{kind: simdLane, pops: 2, pushes: 1, lanes: lanes}
	}
	// Unary: splats, not, any_true, all_true, bitmask, abs, neg, popcnt,
	// sqrt, rounding, extend, extadd, promote, demote, convert, trunc_sat.
	set(simdPlain, 1, 1, span(0x0f, 0x14)...)
	set(simdPlain, 1, 1, 0x4d, 0x53, 0x63, 0x83, 0xa3, 0xc3, 0x64, 0x84, 0xa4, 0xc4)
	set(simdPlain, 1, 1, 0x60, 0x80, 0xa0, 0xc0, 0xe0, 0xec, 0x61, 0x81, 0xa1, 0xc1, 0xe1, 0xed, 0x62, 0xe3, 0xef)
	set(simdPlain, 1, 1, 0x67, 0x68, 0x69, 0x6a, 0x74, 0x75, 0x7a, 0x94)
	set(simdPlain, 1, 1, span(0x87, 0x8a)...)
	set(simdPlain, 1, 1, span(0xa7, 0xaa)...)
	set(simdPlain, 1, 1, span(0xc7, 0xca)...)
	set(simdPlain, 1, 1, span(0x7c, 0x7f)...)
	set(simdPlain, 1, 1, 0x5e, 0x5f, 0xfa, 0xfb, 0xfe, 0xff, 0xf8, 0xf9, 0xfc, 0xfd)
	// Binary: swizzle, bitwise, compares, narrow, dot, shifts (by an i32),
	// arithmetic, min, max, avgr, q15mulr, extmul.
	set(simdPlain, 2, 1, 0x0e, 0x4e, 0x4f, 0x50, 0x51)
	set(simdPlain, 2, 1, span(0x23, 0x4c)...)
	set(simdPlain, 2, 1, span(0xd6, 0xdb)...)
	set(simdPlain, 2, 1, 0x65, 0x66, 0x85, 0x86, 0xba)
	set(simdPlain, 2, 1, 0x6b, 0x6c, 0x6d, 0x8b, 0x8c, 0x8d, 0xab, 0xac, 0xad, 0xcb, 0xcc, 0xcd)
	set(simdPlain, 2, 1, span(0x6e, 0x73)...)
	set(simdPlain, 2, 1, span(0x8e, 0x93)...)
	set(simdPlain, 2, 1, 0x95, 0xae, 0xb1, 0xb5, 0xce, 0xd1, 0xd5)
	set(simdPlain, 2, 1, span(0xe4, 0xeb)...)
	set(simdPlain, 2, 1, span(0xf0, 0xf7)...)
	set(simdPlain, 2, 1, span(0x76, 0x79)...)
	set(simdPlain, 2, 1, span(0x96, 0x99)...)
	set(simdPlain, 2, 1, span(0xb6, 0xb9)...)
	set(simdPlain, 2, 1, 0x7b, 0x9b, 0x82)
	set(simdPlain, 2, 1, span(0x9c, 0x9f)...)
	set(simdPlain, 2, 1, span(0xbc, 0xbf)...)
	set(simdPlain, 2, 1, span(0xdc, 0xdf)...)
	// Ternary: bitselect.
	set(simdPlain, 3, 1, 0x52)
}

// memAlign is log2 of the natural alignment of the memory instructions
// 0x28 (i32.load) to 0x3e (i64.store32).
var memAlign = [...]uint8{
	2, 3, 2, 3, // i32, i64, f32, f64 .load
	0, 0, 1, 1, // i32.load8_s/u, i32.load16_s/u
	0, 0, 1, 1, 2, 2, // i64.load8_s/u, 16_s/u, 32_s/u
	2, 3, 2, 3, // i32, i64, f32, f64 .store
	0, 1, // i32.store8, 16
	0, 1, 2, // i64.store8, 16, 32
}

// unsupportedOp names the feature of a one-byte opcode wazero v1.12 reads
// under a feature wasmreg does not enable, or "".
func unsupportedOp(op byte) string {
	switch op {
	case 0x06, 0x07, 0x08, 0x09, 0x0a, 0x18, 0x19, 0x1f:
		return "exception handling"
	case 0x12, 0x13:
		return "tail calls"
	case 0x14, 0x15, 0xd4, 0xd5, 0xd6:
		return "typed function references"
	case 0xd3, 0xfb:
		return "GC"
	case 0xfe:
		return "threads"
	}
	return ""
}
