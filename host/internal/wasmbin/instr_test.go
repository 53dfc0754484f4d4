package wasmbin

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host/internal/wazeroerr"
)

// stats are what Decode records of a body.
type stats struct{ instructions, loops, depth, height uint32 }

// documentedUnsupported are the encodings wazero v1.12 accepts with
// CoreFeaturesV2 that Decode refuses with ErrUnsupported, because wazero
// and the specification (or this reader) could read them differently, or
// because wazero reads a feature without checking that it is enabled.
// Each is a substring of Decode's message; TestUnsupported has a module
// for each, and the differential fuzz target allows no other.
var documentedUnsupported = []string{
	"whose 5th byte",                  // block type: 5th byte with bit 6 or 7 set
	"where the specification has one", // block type: multi-byte negative
	"not in its 2-byte canonical encoding",
	"neither funcref nor externref", // table element type: wazero takes any byte
	"exnref",                        // exception handling's type, read without the feature
	"ref.null exn",
	"(ref ...)",             // typed function references' types, likewise
	"ref.null of heap type", // a concrete type index
	"table with an initialiser",
	"rec group",
	"multi-memory",
}

// instrTests are bodies of rich's function 1, one per instruction family
// and per refusal; the fuzz targets start from them too.
var instrTests = []struct {
	name   string
	fnType uint32 // the body's type in rich
	code   []byte
	want   stats // if err is nil
	err    error
	msg    string // in the error
}{
	{name: "empty", code: []byte{0x0b}, want: stats{1, 0, 1, 0}},
	{name: "numeric", code: []byte{0x41, 1, 0x41, 2, 0x6a, 0x1a, 0x0b}, want: stats{5, 0, 1, 2}},
	{name: "nested blocks and loops", code: []byte{
		0x02, 0x40, 0x03, 0x40, 0x03, 0x7f, 0x41, 0, 0x0b, 0x1a, 0x0b, 0x0b, 0x0b}, want: stats{9, 2, 4, 1}},
	{name: "if else", code: []byte{0x41, 1, 0x04, 0x7f, 0x41, 2, 0x05, 0x41, 3, 0x0b, 0x1a, 0x0b}, want: stats{8, 0, 2, 1}},
	{name: "block type index with params", fnType: 1, code: []byte{
		0x20, 0, 0x02, 1, 0x41, 1, 0x6a, 0x0b, 0x0b}, want: stats{6, 0, 2, 2}},
	{name: "block type index in 5 bytes", fnType: 1, code: []byte{
		0x20, 0, 0x03, 0x81, 0x80, 0x80, 0x80, 0x00, 0x0b, 0x0b}, want: stats{4, 1, 2, 1}},
	{name: "br br_if br_table", code: []byte{
		0x02, 0x40, 0x41, 0, 0x0d, 0, 0x41, 0, 0x0e, 2, 0, 1, 0, 0x0c, 0, 0x0b, 0x0b}, want: stats{8, 0, 2, 1}},
	{name: "call and call_indirect", code: []byte{
		0x10, 0, 0x41, 5, 0x41, 0, 0x11, 1, 0, 0x1a, 0x0b}, want: stats{6, 0, 1, 2}},
	{name: "locals", fnType: 1, code: []byte{0x20, 0, 0x21, 1, 0x20, 1, 0x22, 0, 0x0b}, want: stats{5, 0, 1, 1}},
	{name: "globals", code: []byte{0x23, 0, 0x24, 1, 0x0b}, want: stats{3, 0, 1, 1}},
	{name: "memory", code: []byte{
		0x41, 0, 0x28, 2, 8, 0x41, 0, 0x36, 0, 0, 0x3f, 0, 0x40, 0, 0x1a, 0x0b}, want: stats{8, 0, 1, 2}},
	{name: "constants", code: []byte{
		0x42, 0x7f, 0x43, 0, 0, 0x80, 0x3f, 0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x1a, 0x1a, 0x1a, 0x0b}, want: stats{7, 0, 1, 3}},
	{name: "reference instructions", code: []byte{
		0xd0, 0x70, 0xd1, 0x1a, 0xd2, 1, 0x1a, 0x41, 0, 0x25, 0, 0x1a, 0x41, 0, 0xd0, 0x6f, 0x26, 1, 0x0b}, want: stats{12, 0, 1, 2}},
	{name: "select t", code: []byte{0x41, 1, 0x41, 2, 0x41, 0, 0x1c, 1, 0x7f, 0x1a, 0x0b}, want: stats{6, 0, 1, 3}},
	{name: "bulk memory and tables", code: []byte{
		0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 8, 0, 0, // memory.init 0
		0xfc, 9, 0, // data.drop 0
		0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 10, 0, 0, // memory.copy
		0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 11, 0, // memory.fill
		0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 12, 0, 0, // table.init 0 0
		0xfc, 13, 0, // elem.drop 0
		0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 14, 0, 0, // table.copy 0 0
		0xd0, 0x70, 0x41, 1, 0xfc, 15, 0, 0x1a, // table.grow 0
		0xfc, 16, 1, 0x1a, // table.size 1
		0x41, 0, 0xd0, 0x70, 0x41, 1, 0xfc, 17, 0, // table.fill 0
		0x43, 0, 0, 0, 0, 0xfc, 0, 0x1a, // i32.trunc_sat_f32_s
		0x0b}, want: stats{36, 0, 1, 3}},
	{name: "simd", code: cat(
		[]byte{0x41, 0, 0xfd, 0, 4, 0},       // v128.load
		[]byte{0xfd, 0x0c}, make([]byte, 16), // v128.const
		[]byte{0xfd, 0x0d, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 31}, // i8x16.shuffle
		[]byte{0xfd, 0x15, 15, 0x1a}, // i8x16.extract_lane_s 15, drop
		[]byte{0xfd, 0x0c}, make([]byte, 16), []byte{0xfd, 0x0c}, make([]byte, 16),
		[]byte{0xfd, 0xba, 0x01},                                                   // i32x4.dot_i16x8_s, opcode 0xba
		[]byte{0xfd, 0x62, 0x1a},                                                   // i8x16.popcnt, drop
		[]byte{0x41, 0, 0xfd, 0x0c}, make([]byte, 16), []byte{0xfd, 0x55, 1, 0, 7}, // v128.load16_lane 7
		[]byte{0x1a, 0x0b}), want: stats{16, 0, 1, 2}},

	{name: "call of a missing function", code: []byte{0x10, 2, 0x0b}, err: ErrInvalidIndex, msg: "function[1] at byte 0x"},
	{name: "call_indirect of a missing type", code: []byte{0x41, 0, 0x11, 3, 0, 0x0b}, err: ErrInvalidIndex, msg: "call_indirect of type 3, the module has 3"},
	{name: "call_indirect through a missing table", code: []byte{0x41, 0, 0x11, 0, 2, 0x0b}, err: ErrInvalidIndex, msg: "call_indirect through table 2"},
	{name: "call_indirect through an externref table", code: []byte{0x41, 0, 0x11, 0, 1, 0x0b}, err: ErrMalformed, msg: "of externref"},
	{name: "local past the locals", code: []byte{0x20, 1, 0x1a, 0x0b}, err: ErrInvalidIndex, msg: "local 1, the function has 1"},
	{name: "local past params and locals", fnType: 1, code: []byte{0x20, 2, 0x1a, 0x0b}, err: ErrInvalidIndex, msg: "local 2"},
	{name: "global a rewrite appends", code: []byte{0x23, 2, 0x1a, 0x0b}, err: ErrInvalidIndex, msg: "global 2, the module has 2"},
	{name: "global.set of a global a rewrite appends", code: []byte{0x41, 0, 0x24, 3, 0x0b}, err: ErrInvalidIndex, msg: "global 3"},
	{name: "global.set of an immutable global", code: []byte{0x41, 0, 0x24, 0, 0x0b}, err: ErrMalformed, msg: "immutable global 0"},
	{name: "br past the function", code: []byte{0x0c, 1, 0x0b}, err: ErrInvalidIndex, msg: "br to label 1, only 1 blocks"},
	{name: "br_if past the blocks", code: []byte{0x02, 0x40, 0x41, 0, 0x0d, 2, 0x0b, 0x0b}, err: ErrInvalidIndex, msg: "br_if to label 2"},
	{name: "br_table target past the blocks", code: []byte{0x41, 0, 0x0e, 1, 1, 0, 0x0b}, err: ErrInvalidIndex, msg: "br_table to label 1"},
	{name: "br_table count past the body", code: []byte{0x41, 0, 0x0e, 0x9f, 0x1f, 0x0b}, err: ErrMalformed, msg: "br_table of 4000 targets"},
	{name: "table a rewrite appends", code: []byte{0x41, 0, 0x25, 2, 0x1a, 0x0b}, err: ErrInvalidIndex, msg: "table 2, the module has 2"},
	{name: "table.grow of a missing table", code: []byte{0xd0, 0x70, 0x41, 0, 0xfc, 15, 2, 0x1a, 0x0b}, err: ErrInvalidIndex, msg: "table 2"},
	{name: "table.copy from a missing table", code: []byte{0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 14, 0, 5, 0x0b}, err: ErrInvalidIndex, msg: "table 5"},
	{name: "table.copy between types", code: []byte{0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 14, 0, 1, 0x0b}, err: ErrMalformed, msg: "table.copy from a table of externref"},
	{name: "table.init of a missing segment", code: []byte{0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 12, 1, 0, 0x0b}, err: ErrInvalidIndex, msg: "element segment 1, the module has 1"},
	{name: "elem.drop of a missing segment", code: []byte{0xfc, 13, 7, 0x0b}, err: ErrInvalidIndex, msg: "element segment 7"},
	{name: "memory.init of a missing segment", code: []byte{0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 8, 1, 0, 0x0b}, err: ErrInvalidIndex, msg: "data segment 1, the module has 1"},
	{name: "data.drop of a missing segment", code: []byte{0xfc, 9, 1, 0x0b}, err: ErrInvalidIndex, msg: "data segment 1"},
	{name: "memory.init memory index", code: []byte{0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 8, 0, 1, 0x0b}, err: ErrMalformed, msg: "memory index other than the single byte 0x00"},
	{name: "memory.grow memory index in 2 bytes", code: []byte{0x41, 0, 0x40, 0x80, 0x00, 0x1a, 0x0b}, err: ErrMalformed, msg: "single byte 0x00"},
	{name: "ref.func of an undeclared function", code: []byte{0xd2, 0, 0x1a, 0x0b}, err: ErrInvalidIndex, msg: "ref.func of function 0, which no export"},
	{name: "ref.func of a missing function", code: []byte{0xd2, 9, 0x1a, 0x0b}, err: ErrInvalidIndex, msg: "ref.func of function 9, the module has 2"},
	{name: "block of a missing type", code: []byte{0x02, 3, 0x0b, 0x0b}, err: ErrInvalidIndex, msg: "block of type 3, the module has 3"},
	{name: "block type past 33 bits", code: []byte{0x02, 0x80, 0x80, 0x80, 0x80, 0x10, 0x0b, 0x0b}, err: ErrMalformed, msg: "block type"},
	{name: "over-aligned load", code: []byte{0x41, 0, 0x28, 3, 0, 0x1a, 0x0b}, err: ErrMalformed, msg: "alignment 2^3 over the natural 2^2"},
	{name: "alignment of 2^32", code: []byte{0x41, 0, 0x29, 32, 0, 0x1a, 0x0b}, err: ErrMalformed, msg: "alignment 2^32"},
	{name: "select of two types", code: []byte{0x41, 1, 0x41, 2, 0x41, 0, 0x1c, 2, 0x7f, 0x7f, 0x1a, 0x0b}, err: ErrMalformed, msg: "select with other than one type"},
	{name: "lane out of range", code: []byte{0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfd, 0x1d, 2, 0x1a, 0x0b}, err: ErrMalformed, msg: "lane 2 of 2"},
	{name: "shuffle lane out of range", code: cat([]byte{0xfd, 0x0c}, make([]byte, 16), []byte{0xfd, 0x0c}, make([]byte, 16), []byte{0xfd, 0x0d}, make([]byte, 15), []byte{32, 0x1a, 0x0b}), err: ErrMalformed, msg: "shuffle lane 32"},
	{name: "unknown SIMD opcode", code: []byte{0xfd, 0x9a, 0x01, 0x0b}, err: ErrMalformed, msg: "unknown SIMD opcode 0x9a"},
	{name: "unknown 0xfc sub-opcode", code: []byte{0xfc, 18, 0x0b}, err: ErrMalformed, msg: "unknown 0xfc sub-opcode 18"},
	{name: "unknown opcode", code: []byte{0x27, 0x0b}, err: ErrMalformed, msg: "unknown opcode 0x27"},
	{name: "else outside if", code: []byte{0x02, 0x40, 0x05, 0x0b, 0x0b}, err: ErrMalformed, msg: "else outside an if"},
	{name: "bytes after the final end", code: []byte{0x0b, 0x01, 0x0b}, err: ErrMalformed, msg: "2 bytes after the function's final end"},
	{name: "missing final end", code: []byte{0x02, 0x40, 0x0b}, err: ErrMalformed, msg: "ends before its final end"},
	{name: "truncated i32.const", code: []byte{0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x0b}, err: ErrMalformed, msg: "i32.const"},
	{name: "i32.const over 32 bits", code: []byte{0x41, 0x80, 0x80, 0x80, 0x80, 0x10, 0x1a, 0x0b}, err: ErrMalformed, msg: "i32.const"},
	{name: "truncated f64.const", code: []byte{0x44, 0, 0, 0x0b}, err: ErrMalformed, msg: "f64.const"},

	{name: "threads", code: []byte{0xfe, 3, 0, 0x0b}, err: ErrUnsupported, msg: "(threads)"},
	{name: "tail call", code: []byte{0x12, 0, 0x0b}, err: ErrUnsupported, msg: "(tail calls)"},
	{name: "exceptions", code: []byte{0x08, 0, 0x0b}, err: ErrUnsupported, msg: "(exception handling)"},
	{name: "call_ref", code: []byte{0x14, 0, 0x0b}, err: ErrUnsupported, msg: "(typed function references)"},
	{name: "GC", code: []byte{0xfb, 0, 0x0b}, err: ErrUnsupported, msg: "(GC)"},
	{name: "block type in 5 bytes, bit 6 set", code: []byte{0x02, 0x80, 0x80, 0x80, 0x80, 0x40, 0x0b, 0x0b}, err: ErrUnsupported, msg: "whose 5th byte 0x40"},
	{name: "block type in 5 bytes, continuation set", code: []byte{0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x0b, 0x0b}, err: ErrUnsupported, msg: "whose 5th byte 0x80"},
	{name: "empty block type in 2 bytes", code: []byte{0x02, 0xc0, 0x7f, 0x0b, 0x0b}, err: ErrUnsupported, msg: "block type -64 in 2 bytes, where the specification has one"},
	{name: "exnref block", code: []byte{0x02, 0x69, 0x0b, 0x0b}, err: ErrUnsupported, msg: "exnref"},
	{name: "(ref null func) block", code: []byte{0x02, 0x63, 0x70, 0xd0, 0x70, 0x0b, 0x1a, 0x0b}, err: ErrUnsupported, msg: "(ref ...)"},
	{name: "ref.null exn", code: []byte{0xd0, 0x69, 0x1a, 0x0b}, err: ErrUnsupported, msg: "ref.null exn"},
	{name: "ref.null of a type index", code: []byte{0xd0, 0x00, 0x1a, 0x0b}, err: ErrUnsupported, msg: "ref.null of heap type"},
	{name: "SIMD opcode 0x80 in one byte", code: []byte{0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfd, 0x80, 0x1a, 0x0b}, err: ErrUnsupported, msg: "not in its 2-byte canonical encoding"},
	{name: "SIMD opcode 0x0c in 2 bytes", code: []byte{0xfd, 0x8c, 0x00, 0x0b}, err: ErrUnsupported, msg: "not in its 2-byte canonical encoding"},
}

func TestInstructions(t *testing.T) {
	for _, tc := range instrTests {
		t.Run(tc.name, func(t *testing.T) {
			wasm := rich(tc.fnType, tc.code...).bytes()
			m, err := Decode(wasm, DefaultLimits())
			werr := wazeroCompile(wasm)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Contains(t, err.Error(), tc.msg)
				checkRefusal(t, err, werr)
				return
			}
			require.NoError(t, err)
			require.NoError(t, werr, "wazero refuses a valid case")
			c := m.Code[0]
			assert.Equal(t, tc.want, stats{c.Instructions, c.Loops, c.MaxDepth, c.MaxHeight})
		})
	}
}

// checkRefusal checks Decode's refusal err against wazero's verdict werr
// on the same module: an index wazero accepts must not be refused, and
// an unsupported encoding wazero accepts must be a documented one.
func checkRefusal(t *testing.T, err, werr error) {
	t.Helper()
	switch {
	case errors.Is(err, ErrUnsupported):
		if werr == nil {
			assert.True(t, isDocumented(err), "wazero accepts an undocumented unsupported encoding: %v", err)
		}
	case errors.Is(err, ErrLimit):
	default:
		assert.Error(t, werr, "Decode refuses what wazero accepts: %v", err)
	}
}

func isDocumented(err error) bool {
	for _, s := range documentedUnsupported {
		if containsString(err.Error(), s) {
			return true
		}
	}
	return false
}

func containsString(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestReaderMatchesDecode reads every body of a real module with
// Instructions: the same instructions as Decode counted, with the Depth,
// offsets and immediates Decode checked.
func TestReaderMatchesDecode(t *testing.T) {
	for name, wasm := range realModules(t) {
		m, err := Decode(wasm, DefaultLimits())
		if err != nil {
			continue
		}
		for i, c := range m.Code {
			r := m.Instructions(i)
			var n, loops uint32
			prevEnd := c.Expr
			for r.Next() {
				in := r.Instr()
				require.Equal(t, prevEnd, in.Start, "%s function %d", name, i)
				require.Greater(t, in.End, in.Start)
				prevEnd = in.End
				n++
				if in.Op == OpLoop {
					loops++
				}
				require.LessOrEqual(t, in.Depth, c.MaxDepth)
			}
			require.NoError(t, r.Err())
			require.Equal(t, len(c.Body), prevEnd)
			require.Equal(t, c.Instructions, n, "%s function %d", name, i)
			require.Equal(t, c.Loops, loops)
		}
	}
}

func TestReaderImmediates(t *testing.T) {
	m, err := Decode(rich(1, 0x20, 0, 0x41, 0x7f, 0x6a, 0x41, 0, 0x11, 1, 0, 0x1a,
		0x41, 0, 0x29, 3, 0x90, 0x03, 0x1a,
		0x02, 0x7e, 0x42, 1, 0x0b, 0x1a,
		0x41, 0, 0x0e, 1, 0, 0,
		0x0b).bytes(), DefaultLimits())
	require.NoError(t, err)
	r := m.Instructions(0)
	var got []Instr
	for r.Next() {
		got = append(got, *r.Instr())
	}
	require.NoError(t, r.Err())
	want := []Instr{
		{Op: 0x20, Start: 3, End: 5, Depth: 1},
		{Op: 0x41, Start: 5, End: 7, Depth: 1, Const: 0xffffffff},
		{Op: 0x6a, Start: 7, End: 8, Depth: 1},
		{Op: 0x41, Start: 8, End: 10, Depth: 1},
		{Op: OpCallIndirect, Start: 10, End: 13, Depth: 1, Index: 1},
		{Op: 0x1a, Start: 13, End: 14, Depth: 1},
		{Op: 0x41, Start: 14, End: 16, Depth: 1},
		{Op: 0x29, Start: 16, End: 20, Depth: 1, Align: 3, Offset: 400},
		{Op: 0x1a, Start: 20, End: 21, Depth: 1},
		{Op: OpBlock, Start: 21, End: 23, Depth: 1, BlockType: -2},
		{Op: 0x42, Start: 23, End: 25, Depth: 2, Const: 1},
		{Op: OpEnd, Start: 25, End: 26, Depth: 2},
		{Op: 0x1a, Start: 26, End: 27, Depth: 1},
		{Op: 0x41, Start: 27, End: 29, Depth: 1},
		{Op: OpBrTable, Start: 29, End: 33, Depth: 1, Targets: 2},
		{Op: OpEnd, Start: 33, End: 34, Depth: 1},
	}
	assert.Equal(t, want, got)
	assert.False(t, r.Next(), "Next after the final end")

	bad := m.Instructions(1)
	assert.False(t, bad.Next())
	assert.ErrorIs(t, bad.Err(), ErrInvalidIndex)

	// A Module that Decode did not return reads to an error, not a panic.
	hand := &Module{Types: m.Types, Functions: m.Functions, Code: m.Code, ImportedFuncs: 1}
	bad = hand.Instructions(0)
	assert.False(t, bad.Next())
	assert.ErrorIs(t, bad.Err(), ErrMalformed)
}

// TestReaderAllocations: reading a body allocates nothing per
// instruction.
func TestReaderAllocations(t *testing.T) {
	code := []byte{}
	for range 1000 {
		code = append(code, 0x02, 0x40, 0x41, 1, 0x04, 0x40, 0x0b, 0x0b)
	}
	m, err := Decode(fn(append(code, 0x0b)...), DefaultLimits())
	require.NoError(t, err)
	r := m.Instructions(0)
	allocs := testing.AllocsPerRun(10, func() {
		r.reset(m, 0, Limits{})
		for r.Next() {
		}
	})
	assert.Zero(t, allocs)
	require.NoError(t, r.Err())
}

// TestOpcodeTables: the opcodes Decode knows are the ones wazero's
// validation knows, one-byte, 0xfc and 0xfd alike. An opcode alone in a
// body makes wazero fail for its operands if it knows it, and for the
// opcode itself if not.
func TestOpcodeTables(t *testing.T) {
	unknown := func(werr error) bool { return wazeroerr.Matches(werr, wazeroerr.UnknownOpcodeFragments) }
	for op := range 256 {
		var code []byte
		switch op {
		case 0xfc, 0xfd:
			continue
		case 0x0b, 0x05:
			continue // end and else shape the body
		}
		code = []byte{byte(op), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b}
		_, err := Decode(rich(0, code...).bytes(), noLimits)
		werr := wazeroCompile(rich(0, code...).bytes())
		if errors.Is(err, ErrUnsupported) {
			// Known to wazero under a feature it may check only after
			// the operands (return_call_indirect does).
			assert.Error(t, werr, "opcode %#x", op)
			continue
		}
		ours := err != nil && containsString(err.Error(), "unknown opcode")
		assert.Equal(t, unknown(werr), ours, "opcode %#x: wazero says %v, Decode %v", op, werr, err)
	}
	for sub := range 256 {
		code := AppendU32([]byte{0xfc}, uint32(sub))
		code = append(code, make([]byte, 18)...)
		code = append(code, 0x0b)
		_, err := Decode(rich(0, code...).bytes(), noLimits)
		werr := wazeroCompile(rich(0, code...).bytes())
		ours := err != nil && containsString(err.Error(), "unknown 0xfc sub-opcode")
		assert.Equal(t, unknown(werr), ours, "0xfc %d: wazero says %v, Decode %v", sub, werr, err)
	}
	for sub := range 256 {
		code := []byte{0xfd, byte(sub)}
		if sub >= 0x80 {
			code = append(code, 0x01)
		}
		code = append(code, make([]byte, 18)...)
		code = append(code, 0x0b)
		_, err := Decode(rich(0, code...).bytes(), noLimits)
		werr := wazeroCompile(rich(0, code...).bytes())
		ours := err != nil && containsString(err.Error(), "unknown SIMD opcode")
		assert.Equal(t, unknown(werr), ours, "0xfd %#x: wazero says %v, Decode %v", sub, werr, err)
	}
}

// TestConcurrentUse: a Module is read by many goroutines at once, each
// with its own Reader, while others decode the same bytes.
func TestConcurrentUse(t *testing.T) {
	wasm := readFixture(t, "features.wasm")
	m, err := Decode(wasm, DefaultLimits())
	require.NoError(t, err)
	const goroutines, rounds = 16, 50
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for range rounds {
				if g%2 == 0 {
					if _, err := Decode(wasm, DefaultLimits()); err != nil {
						errs <- err
						return
					}
					continue
				}
				for i, c := range m.Code {
					r := m.Instructions(i)
					n := uint32(0)
					for r.Next() {
						n++
					}
					if r.Err() != nil || n != c.Instructions {
						errs <- fmt.Errorf("function %d: %d instructions, %v", i, n, r.Err())
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSIMDArity: for every SIMD instruction, wazero validates it with the
// number of operands Decode pops (of some types) and the number of
// results it pushes, so that MaxHeight counts what wazero does.
func TestSIMDArity(t *testing.T) {
	operands := [][]byte{
		cat([]byte{0xfd, 0x0c}, make([]byte, 16)), {0x41, 0}, {0x42, 0},
		cat([]byte{0x43}, make([]byte, 4)), cat([]byte{0x44}, make([]byte, 8)),
	}
	for sub := range 256 {
		s := simdOps[sub]
		if s.kind == simdInvalid {
			continue
		}
		op := []byte{0xfd, byte(sub)}
		if sub >= 0x80 {
			op = append(op, 0x01)
		}
		switch s.kind {
		case simdMem:
			op = append(op, 0, 0)
		case simdMemLane:
			op = append(op, 0, 0, 0)
		case simdLane:
			op = append(op, 0)
		case simdConst, simdShuffle:
			op = append(op, make([]byte, 16)...)
		}
		tail := append(op, append(bytesOf(0x1a, int(s.pushes)), 0x0b)...)
		found := false
		var combo func(prefix []byte, n int)
		combo = func(prefix []byte, n int) {
			if found {
				return
			}
			if n == 0 {
				found = wazeroVerdict(rich(0, cat(prefix, tail)...).bytes()) == nil
				return
			}
			for _, o := range operands {
				combo(cat(prefix, o), n-1)
			}
		}
		combo(nil, int(s.pops))
		assert.True(t, found, "SIMD %#x: no operands of %d values make wazero accept it with %d results", sub, s.pops, s.pushes)
	}
}

// TestPlainArity does the same for the instructions without immediates.
func TestPlainArity(t *testing.T) {
	operands := [][]byte{
		{0x41, 0}, {0x42, 0}, cat([]byte{0x43}, make([]byte, 4)), cat([]byte{0x44}, make([]byte, 8)), {0xd0, 0x70},
	}
	for op := range 256 {
		a := plainOps[op]
		if a == 0 || op == 0x00 || op == 0x0f { // unreachable and return accept anything
			continue
		}
		pops, pushes := int(a>>4&7), int(a&15)
		tail := append([]byte{byte(op)}, append(bytesOf(0x1a, pushes), 0x0b)...)
		found := false
		var combo func(prefix []byte, n int)
		combo = func(prefix []byte, n int) {
			if found {
				return
			}
			if n == 0 {
				found = wazeroVerdict(rich(0, cat(prefix, tail)...).bytes()) == nil
				return
			}
			for _, o := range operands {
				combo(cat(prefix, o), n-1)
			}
		}
		combo(nil, pops)
		assert.True(t, found, "opcode %#x: no operands of %d values make wazero accept it with %d results", op, pops, pushes)
	}
}

func bytesOf(b byte, n int) []byte {
	s := make([]byte, n)
	for i := range s {
		s[i] = b
	}
	return s
}
