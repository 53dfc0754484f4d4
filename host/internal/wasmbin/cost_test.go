package wasmbin

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCostMonotonic: the estimate of a function grows with each of its
// terms, whatever the others are, so that no figure a module adds to can
// lower it.
func TestCostMonotonic(t *testing.T) {
	bases := []funcTerms{
		{},
		{Instructions: 1, Calls: 1, Locals: 1, Height: 1, Loops: 1, Blocks: 1, Merges: 1, BrTargets: 1, DepthSum: 1, PredSqs: 1, Globals: 1, MutableGlobals: 1},
		{Instructions: 13_335, Calls: 300, Locals: 21, Height: 7, Loops: 3, Blocks: 2_000, Merges: 900, BrTargets: 965, DepthSum: 4_000, PredSqs: 9_000, Globals: 11, MutableGlobals: 11},
		{Instructions: 65_536, Calls: 65_534, Locals: 5_096, Height: 256, Loops: 512, Blocks: 8_192, Merges: 4_096, BrTargets: 4_096, DepthSum: 1 << 24, PredSqs: 1 << 24, Globals: 1_003, MutableGlobals: 35},
	}
	fields := reflect.TypeFor[funcTerms]().NumField()
	for _, base := range bases {
		for i := range fields {
			name := reflect.TypeFor[funcTerms]().Field(i).Name
			t.Run(name, func(t *testing.T) {
				more := base
				f := reflect.ValueOf(&more).Elem().Field(i)
				f.SetFloat(f.Float() + 1)
				assert.GreaterOrEqual(t, functionCost(more), functionCost(base), "%+v", base)
				// Each term counts once the others are non-zero.
				if base.Instructions > 0 {
					assert.Greater(t, functionCost(more), functionCost(base), "%+v", base)
				}
			})
		}
	}
}

// TestCostModuleTerms: each entry of a module-level section adds to
// CompileCost, and so does each function.
func TestCostModuleTerms(t *testing.T) {
	base := small(0x0b)
	tests := []struct {
		name   string
		change func(*mod)
	}{
		{"type", func(m *mod) { m.types = append(m.types, functype(nil, nil)) }},
		{"param", func(m *mod) { m.types = append(m.types[:1:1], functype([]ValType{I32}, nil)) }},
		{"import", func(m *mod) { m.imports = [][]byte{cat(name("a"), name("f"), []byte{0, 0})} }},
		{"export", func(m *mod) { m.exports = [][]byte{cat(name("f"), []byte{0, 0})} }},
		{"global", func(m *mod) { m.globals = [][]byte{{byte(I32), 0, 0x41, 0, 0x0b}} }},
		{"element segment", func(m *mod) {
			m.tables = [][]byte{{0x70, 0, 1}}
			m.elements = [][]byte{{1, 0, 0}}
		}},
		{"data segment", func(m *mod) {
			m.memories = [][]byte{{0, 1}}
			m.data = [][]byte{cat([]byte{1}, name("c"))}
		}},
		{"function", func(m *mod) {
			m.funcs = append(m.funcs, 0)
			m.codes = append(m.codes, body(nil, 0x0b))
		}},
		{"instruction", func(m *mod) { m.codes = [][]byte{body(nil, 0x01, 0x0b)} }},
		{"local", func(m *mod) { m.codes = [][]byte{body([]LocalDecl{{1, I32}}, 0x0b)} }},
	}
	m0, err := Decode(base.bytes(), Limits{})
	require.NoError(t, err)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(with(base, tc.change), Limits{})
			require.NoError(t, err)
			assert.Greater(t, m.compileCost(), m0.compileCost())
			assert.GreaterOrEqual(t, m.CompileCost(), m0.CompileCost())
		})
	}
}

// TestCostBlocks: the blocks, merges and depths the estimate counts, on
// bodies whose basic blocks are known, and none in unreachable code.
func TestCostBlocks(t *testing.T) {
	tests := []struct {
		name string
		code []byte
		want Code // Blocks, Merges, DepthSum, PredSquares, BrTargets, Control, Calls
	}{
		{"straight", []byte{0x01, 0x0b}, Code{}},
		{"block", []byte{0x02, 0x40, 0x0b, 0x0b}, Code{Blocks: 1, DepthSum: 1, PredSquares: 1, Control: 1}},
		// if: the then arm (depth 1); end: a merge of it and the false edge, at depth 1.
		{"if", []byte{0x41, 0, 0x04, 0x40, 0x0b, 0x0b}, Code{Blocks: 2, Merges: 1, DepthSum: 2, PredSquares: 4, Control: 1}},
		// loop: its header (1); br_if back: a block (2); end: fall-through (3).
		// The header merges entry and back edge.
		{"loop", []byte{0x03, 0x40, 0x41, 0, 0x0d, 0, 0x0b, 0x0b}, Code{Blocks: 3, Merges: 1, DepthSum: 6, PredSquares: 5, Control: 2}},
		// A br_table of 2 targets: a trampoline each at depth 1; the
		// block after the end merges both (preds² = 4), at depth 2.
		{"br_table", []byte{0x02, 0x40, 0x41, 0, 0x0e, 1, 0, 0, 0x0b, 0x0b}, Code{Blocks: 3, Merges: 1, DepthSum: 4, PredSquares: 4, BrTargets: 2, Control: 3}},
		// After return nothing is reachable: the block opened there
		// makes no block, its br_if neither.
		{"unreachable code", []byte{0x0f, 0x02, 0x40, 0x41, 0, 0x0d, 0, 0x0b, 0x0b}, Code{Control: 2}},
		{"calls", []byte{0x10, 0, 0x10, 0, 0x0b}, Code{Calls: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(small(tc.code...).bytes(), Limits{})
			require.NoError(t, err)
			c := m.Code[0]
			got := Code{Blocks: c.Blocks, Merges: c.Merges, DepthSum: c.DepthSum, PredSquares: c.PredSquares,
				BrTargets: c.BrTargets, Control: c.Control, Calls: c.Calls}
			assert.Equal(t, tc.want, got)
			assert.Positive(t, c.Cost)
			assert.Equal(t, ceilCost(m.fixedCost()+c.Cost), m.CompileCost())
		})
	}
}
