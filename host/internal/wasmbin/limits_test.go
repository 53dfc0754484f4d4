package wasmbin

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shape is what a module's structure asks of the limits that are not the
// JS API's.
type shape struct {
	Bytes, Functions                                int
	MaxLocals, Locals                               uint64
	MaxBody                                         int
	MaxInstructions, MaxLoops, MaxDepth, MaxBrTable uint32
	MaxHeight                                       uint32
	Instructions                                    uint64
}

func measure(t testing.TB, m *Module) shape {
	s := shape{Bytes: len(m.Bytes), Functions: len(m.Code)}
	for i, c := range m.Code {
		s.MaxLocals = max(s.MaxLocals, uint64(c.NumLocals))
		s.Locals += uint64(c.NumLocals)
		s.MaxBody = max(s.MaxBody, len(c.Body))
		s.MaxInstructions = max(s.MaxInstructions, c.Instructions)
		s.MaxLoops = max(s.MaxLoops, c.Loops)
		s.MaxDepth = max(s.MaxDepth, c.MaxDepth)
		s.MaxHeight = max(s.MaxHeight, c.MaxHeight)
		s.Instructions += uint64(c.Instructions)
		r := m.Instructions(i)
		for r.Next() {
			if in := r.Instr(); in.Op == OpBrTable {
				s.MaxBrTable = max(s.MaxBrTable, in.Targets)
			}
		}
		require.NoError(t, r.Err())
	}
	return s
}

// TestDefaultLimitsMargin: every real module is far below each default
// limit that is not the JS API's: a quarter of it at most. Run with -v
// for each module's figures.
func TestDefaultLimitsMargin(t *testing.T) {
	lim := DefaultLimits()
	mods := realModules(t)
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	sort.Strings(names)
	var rows []string
	for _, name := range names {
		m, err := Decode(mods[name], lim)
		if err != nil {
			require.Error(t, wazeroCompile(mods[name]), "%s: Decode refuses a module wazero compiles: %v", name, err)
			continue
		}
		s := measure(t, m)
		rows = append(rows, fmt.Sprintf("%-44s %8d %5d %6d %7d %7d %6d %5d %5d %6d %5d %8d",
			name, s.Bytes, s.Functions, s.MaxLocals, s.Locals, s.MaxInstructions, s.MaxLoops, s.MaxDepth,
			s.MaxBrTable, s.MaxHeight, s.MaxBody/1024, s.Instructions))
		margin := func(what string, v, limit uint64) {
			assert.LessOrEqual(t, 4*v, limit, "%s: %s %d is not a quarter of its limit %d", name, what, v, limit)
		}
		margin("InstructionsPerFunction", uint64(s.MaxInstructions), uint64(lim.InstructionsPerFunction))
		margin("LoopsPerFunction", uint64(s.MaxLoops), uint64(lim.LoopsPerFunction))
		margin("BlockDepth", uint64(s.MaxDepth), uint64(lim.BlockDepth))
		margin("BrTableTargets", uint64(s.MaxBrTable), uint64(lim.BrTableTargets))
		margin("Instructions", s.Instructions, lim.Instructions)
		margin("Locals", s.Locals, lim.Locals)
	}
	t.Logf("\n%-44s %8s %5s %6s %7s %7s %6s %5s %5s %6s %5s %8s\n%s", "module", "bytes", "funcs", "locals", "Σlocals",
		"instrs", "loops", "depth", "brtab", "height", "KiB", "Σinstrs", strings.Join(rows, "\n"))
}

// TestLimits: each limit of the code section refuses the first module
// over it, with a *LimitError that names it.
func TestLimits(t *testing.T) {
	nest := func(n int, op byte) []byte {
		var b []byte
		for range n {
			b = append(b, op, 0x40)
		}
		for range n {
			b = append(b, 0x0b)
		}
		return append(b, 0x0b)
	}
	loops := func(n int) []byte {
		var b []byte
		for range n {
			b = append(b, 0x03, 0x40, 0x0b)
		}
		return append(b, 0x0b)
	}
	brTable := func(n int) []byte {
		b := []byte{0x41, 0, 0x0e}
		b = AppendU32(b, uint32(n-1))
		for range n {
			b = append(b, 0)
		}
		return append(b, 0x0b)
	}
	tests := []struct {
		name  string
		lim   Limits
		ok    []byte // a body at the limit
		over  []byte // one over it
		limit string
		found uint64
	}{
		{"BlockDepth", Limits{BlockDepth: 10}, nest(9, 0x02), nest(10, 0x02), "BlockDepth", 11},
		{"BlockDepth of ifs", Limits{BlockDepth: 3}, []byte{0x41, 0, 0x04, 0x40, 0x41, 0, 0x04, 0x40, 0x0b, 0x0b, 0x0b},
			[]byte{0x41, 0, 0x04, 0x40, 0x41, 0, 0x04, 0x40, 0x02, 0x40, 0x0b, 0x0b, 0x0b, 0x0b}, "BlockDepth", 4},
		{"LoopsPerFunction", Limits{LoopsPerFunction: 5}, loops(5), loops(6), "LoopsPerFunction", 6},
		{"InstructionsPerFunction", Limits{InstructionsPerFunction: 11}, loops(5), loops(6), "InstructionsPerFunction", 12},
		{"BrTableTargets", Limits{BrTableTargets: 100}, brTable(100), brTable(101), "BrTableTargets", 101},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(small(tc.ok...).bytes(), tc.lim)
			require.NoError(t, err)
			_, err = Decode(small(tc.over...).bytes(), tc.lim)
			var le *LimitError
			require.ErrorAs(t, err, &le)
			assert.ErrorIs(t, err, ErrLimit)
			assert.Equal(t, LimitError{Limit: tc.limit, Where: "function[0]", Found: tc.found, Max: le.Max}, *le)
		})
	}

	t.Run("Instructions", func(t *testing.T) {
		m := small(loops(5)...)
		m.funcs = []uint32{0, 0}
		m.codes = append(m.codes, m.codes[0])
		_, err := Decode(m.bytes(), Limits{Instructions: 22})
		require.NoError(t, err)
		_, err = Decode(m.bytes(), Limits{Instructions: 21})
		var le *LimitError
		require.ErrorAs(t, err, &le)
		assert.Equal(t, LimitError{Limit: "Instructions", Where: "module", Found: 22, Max: 21}, *le)
	})

	// 20,000 functions of 50,000 locals each: 200 KB that wazero's
	// decoder would turn into 8 GB of local types.
	t.Run("Locals", func(t *testing.T) {
		m := mod{types: [][]byte{functype(nil, nil)}}
		for range 20_000 {
			m.funcs = append(m.funcs, 0)
			m.codes = append(m.codes, body([]LocalDecl{{50_000, I64}}, 0x0b))
		}
		wasm := m.bytes()
		_, err, allocated := decodeAllocs(wasm, DefaultLimits())
		var le *LimitError
		require.ErrorAs(t, err, &le)
		assert.Equal(t, "Locals", le.Limit)
		assert.Equal(t, "code section", le.Where)
		assert.Less(t, allocated, allocBound(len(wasm)))
	})
}
