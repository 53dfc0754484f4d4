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
	MaxLocals, Locals                               uint64 // params counted in MaxLocals, as LocalsPerFunction counts them
	MaxBody                                         int
	MaxInstructions, MaxLoops, MaxDepth, MaxBrTable uint32
	MaxHeight, MaxControl, MutableGlobals           uint32
	Instructions, CompileCost                       uint64
}

func measure(t testing.TB, m *Module) shape {
	s := shape{Bytes: len(m.Bytes), Functions: len(m.Code), CompileCost: m.CompileCost()}
	for _, g := range m.globals {
		if g.Mutable {
			s.MutableGlobals++
		}
	}
	for i, c := range m.Code {
		s.MaxLocals = max(s.MaxLocals, uint64(len(m.Types[m.Functions[i]].Params))+uint64(c.NumLocals))
		s.Locals += uint64(c.NumLocals)
		s.MaxBody = max(s.MaxBody, len(c.Body))
		s.MaxInstructions = max(s.MaxInstructions, c.Instructions)
		s.MaxLoops = max(s.MaxLoops, c.Loops)
		s.MaxDepth = max(s.MaxDepth, c.MaxDepth)
		s.MaxHeight = max(s.MaxHeight, c.MaxHeight)
		s.MaxControl = max(s.MaxControl, c.Control)
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
// limit that is not the JS API's: a quarter of it at most, half for
// ControlPerFunction, a third for CompileCost; the hostile fixtures not
// meant to be refused pass. Run with -v for each module's figures.
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
		if _, refused := refusedFixtures[name]; refused {
			continue // TestRealModules checks they are
		}
		m, err := Decode(mods[name], lim)
		if err != nil {
			require.Error(t, wazeroCompile(mods[name]), "%s: Decode refuses a module wazero compiles: %v", name, err)
			continue
		}
		s := measure(t, m)
		if strings.HasPrefix(name, "host/testdata/hostile/") {
			// Not real code: each must pass (or be refused above), no
			// margin asked (recursion_fat's 2,000 locals are meant to
			// make fat frames).
			continue
		}
		rows = append(rows, fmt.Sprintf("%-44s %8d %5d %6d %7d %7d %6d %5d %5d %6d %5d %8d %7d %4d %9d",
			name, s.Bytes, s.Functions, s.MaxLocals, s.Locals, s.MaxInstructions, s.MaxLoops, s.MaxDepth,
			s.MaxBrTable, s.MaxHeight, s.MaxBody/1024, s.Instructions, s.MaxControl, s.MutableGlobals, s.CompileCost))
		margin := func(what string, v, limit uint64, factor float64) {
			assert.LessOrEqual(t, factor*float64(v), float64(limit), "%s: %s %d is not 1/%g of its limit %d", name, what, v, factor, limit)
		}
		margin("InstructionsPerFunction", uint64(s.MaxInstructions), uint64(lim.InstructionsPerFunction), 4)
		margin("LoopsPerFunction", uint64(s.MaxLoops), uint64(lim.LoopsPerFunction), 4)
		margin("BlockDepth", uint64(s.MaxDepth), uint64(lim.BlockDepth), 4)
		margin("BrTableTargets", uint64(s.MaxBrTable), uint64(lim.BrTableTargets), 4)
		margin("Instructions", s.Instructions, lim.Instructions, 4)
		margin("Locals", s.Locals, lim.Locals, 4)
		// C at -O0 has functions of 1,108 locals, and the estimate holds
		// only to about 2,500 (DefaultLimits): a thinner margin.
		margin("LocalsPerFunction", s.MaxLocals, uint64(lim.LocalsPerFunction), 1.5)
		margin("StackHeight", uint64(s.MaxHeight), uint64(lim.StackHeight), 4)
		margin("MutableGlobals", uint64(s.MutableGlobals), uint64(lim.MutableGlobals), 4)
		margin("FunctionBodyBytes", uint64(s.MaxBody), uint64(lim.FunctionBodyBytes), 4)
		// Go's dispatch makes the largest real function's control 1,889;
		// chains of blocks cost quadratically, so this margin is thinner
		// (DefaultLimits).
		margin("ControlPerFunction", uint64(s.MaxControl), uint64(lim.ControlPerFunction), 2)
		// As written: TestCheckedCompileCost checks the same with the
		// host's interrupt checks.
		margin("CompileCost", s.CompileCost, lim.CompileCost, 3)
	}
	t.Logf("\n%-44s %8s %5s %6s %7s %7s %6s %5s %5s %6s %5s %8s %7s %4s %9s\n%s", "module", "bytes", "funcs", "locals", "Σlocals",
		"instrs", "loops", "depth", "brtab", "height", "KiB", "Σinstrs", "control", "mut", "cost µs", strings.Join(rows, "\n"))
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
	stack := func(n int) []byte {
		var b []byte
		for range n {
			b = append(b, 0x41, 0)
		}
		for range n {
			b = append(b, 0x1a)
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
		{"ControlPerFunction of loops", Limits{ControlPerFunction: 5}, loops(5), loops(6), "ControlPerFunction", 6},
		{"ControlPerFunction of br_table targets", Limits{ControlPerFunction: 100}, brTable(100), brTable(101), "ControlPerFunction", 101},
		{"ControlPerFunction of ifs, elses and br_ifs", Limits{ControlPerFunction: 4},
			[]byte{0x41, 0, 0x04, 0x40, 0x05, 0x0b, 0x02, 0x40, 0x41, 0, 0x0d, 0, 0x0b, 0x0b},
			[]byte{0x41, 0, 0x04, 0x40, 0x05, 0x0b, 0x02, 0x40, 0x41, 0, 0x0d, 0, 0x41, 0, 0x0d, 0, 0x0b, 0x0b}, "ControlPerFunction", 5},
		{"StackHeight", Limits{StackHeight: 10}, stack(10), stack(11), "StackHeight", 11},
		{"StackHeight of a block's results", Limits{StackHeight: 2},
			[]byte{0x41, 0, 0x02, 0x7f, 0x41, 0, 0x0b, 0x1a, 0x1a, 0x0b},
			[]byte{0x41, 0, 0x02, 0x7f, 0x41, 0, 0x0b, 0x41, 0, 0x1a, 0x1a, 0x1a, 0x0b}, "StackHeight", 3},
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
		lim := DefaultLimits()
		lim.LocalsPerFunction = 50_000
		_, allocated, err := decodeAllocs(wasm, lim)
		var le *LimitError
		require.ErrorAs(t, err, &le)
		assert.Equal(t, "Locals", le.Limit)
		assert.Equal(t, "code section", le.Where)
		assert.Less(t, allocated, allocBound(len(wasm)))
	})
}
