package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
)

// compiles reports wazero's verdict on wasm, with the compiler the
// measurements use.
func compiles(t testing.TB, wasm []byte) error {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	defer rt.Close(ctx)
	_, err := rt.CompileModule(ctx, wasm)
	return err
}

// Every generator must produce a valid module, raw and checked, or the
// sweep would time wazero's validation errors.
func TestShapesAreValid(t *testing.T) {
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			for _, checked := range []bool{false, true} {
				wasm, err := build(s, s.start, 0, checked)
				require.NoError(t, err)
				assert.NoError(t, compiles(t, wasm), "checked=%v", checked)
			}
		})
	}
}

// The reader must see in each shape the figure the shape is named for.
func TestShapeFigures(t *testing.T) {
	const n = 300
	tests := []struct {
		shape string
		got   func(shape) int
		want  int
	}{
		{"seq_loops", func(s shape) int { return s.LoopsPerFunction }, n},
		{"nested_loops", func(s shape) int { return s.BlockDepth }, n},
		{"nested_ifs", func(s shape) int { return s.BlockDepth }, n},
		{"br_table", func(s shape) int { return s.BrTableTargets }, n},
		{"locals_one", func(s shape) int { return int(s.LocalsPerFunction) }, n},
		{"locals_many", func(s shape) int { return int(s.LocalsPerFunction) }, n},
		{"straight_calls", func(s shape) int { return s.MaxInstructions }, n + 2}, // + local.get, end
		{"many_funcs", func(s shape) int { return s.Functions }, n},
		{"many_globals", func(s shape) int { return s.Globals }, n},
		{"many_types", func(s shape) int { return s.Types }, n},
		{"many_data", func(s shape) int { return s.DataSegments }, n},
		{"many_elems", func(s shape) int { return s.ElementSegments }, n},
		{"many_exports", func(s shape) int { return s.Exports }, n},
		{"many_imports", func(s shape) int { return s.Imports }, n},
		{"live_values", func(s shape) int { return s.StackHeight }, n + 1},
		{"seq_br_ifs", func(s shape) int { return s.ControlPerFunction }, n + 1}, // + the block
		{"calls_x_globals", func(s shape) int { return s.Calls }, n},
		{"calls_x_globals", func(s shape) int { return s.MutableGlobals }, n},
		{"params", func(s shape) int { return s.ParamsResults }, n},
		{"results", func(s shape) int { return s.ParamsResults }, n},
	}
	for _, tc := range tests {
		t.Run(tc.shape, func(t *testing.T) {
			s, ok := shapeByName(tc.shape)
			require.True(t, ok)
			_, sh, err := parse(s.gen(n, n).encode(), false)
			require.NoError(t, err)
			assert.Equal(t, tc.want, tc.got(sh))
		})
	}
}

// realModules are the committed modules the tests can read.
func realModules(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("../../host/testdata/*.wasm")
	require.NoError(t, err)
	paths = append(paths, "../../cmd/wasmreg/internal/demo/mlp.wasm")
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out[filepath.Base(p)] = b
	}
	require.NotEmpty(t, out)
	return out
}

// The checks add exactly their instructions: 12 per loop, 24 per function
// (entry check, wrapping block and its end, stack restore) and $slow's 2.
func TestInstrumentAddsOneCheckPerLoopAndFunction(t *testing.T) {
	for name, wasm := range realModules(t) {
		t.Run(name, func(t *testing.T) {
			mi, before, err := parse(wasm, false)
			require.NoError(t, err)
			loops := 0
			for _, b := range mi.bodies {
				loops += b.stats.loops
			}
			out, err := instrument(wasm)
			require.NoError(t, err)
			_, after, err := parse(out, false)
			require.NoError(t, err)
			assert.Equal(t, before.Instructions+12*loops+24*before.Functions+2, after.Instructions)
			assert.Equal(t, before.Functions+1, after.Functions)
			assert.Equal(t, before.Globals+3, after.Globals)
			if testing.Short() && len(wasm) > 1<<20 {
				return
			}
			assert.NoError(t, compiles(t, out))
		})
	}
}

// A function whose body is wrapped must still return what it returned,
// with one result and with several.
func TestInstrumentKeepsResults(t *testing.T) {
	m := &module{}
	sum := m.addType(funcType{params: []byte{i32}, results: []byte{i32}})
	pair := m.addType(funcType{params: []byte{i32}, results: []byte{i32, i32}})
	// sum(n) = n + (n-1) + ... + 1, with a loop and an early return for 0.
	body := code{}.localGet(0).op(opI32Eqz, opIf, blockVoid).i32(0).op(opReturn, opEnd).
		op(opLoop, blockVoid).
		localGet(1).localGet(0).op(opI32Add).localSet(1).
		localGet(0).i32(1).op(opI32Sub).localSet(0).
		localGet(0).u(opBrIf, 0).
		op(opEnd).localGet(1).op(opEnd)
	f := m.addFunc(function{typ: sum, locals: []localDecl{{1, i32}}, body: body})
	g := m.addFunc(function{typ: pair, body: code{}.localGet(0).localGet(0).i32(1).op(opI32Add).op(opEnd)})
	m.exports = []export{{"sum", 0, f}, {"pair", 0, g}}
	raw := m.encode()
	checked, err := instrument(raw)
	require.NoError(t, err)

	ctx := context.Background()
	for _, wasm := range [][]byte{raw, checked} {
		rt := wazero.NewRuntime(ctx)
		mod, err := rt.Instantiate(ctx, wasm)
		require.NoError(t, err)
		for _, tc := range []struct{ in, want uint64 }{{0, 0}, {1, 1}, {10, 55}} {
			got, err := mod.ExportedFunction("sum").Call(ctx, tc.in)
			require.NoError(t, err)
			assert.Equal(t, []uint64{tc.want}, got)
		}
		got, err := mod.ExportedFunction("pair").Call(ctx, 7)
		require.NoError(t, err)
		assert.Equal(t, []uint64{7, 8}, got)
		require.NoError(t, rt.Close(ctx))
	}
}

func TestReplicate(t *testing.T) {
	wasm := realModules(t)["guest.wasm"]
	_, before, err := parse(wasm, false)
	require.NoError(t, err)
	out, err := replicate(wasm, 3)
	require.NoError(t, err)
	_, after, err := parse(out, false)
	require.NoError(t, err)
	assert.Equal(t, 3*before.Functions, after.Functions)
	assert.Equal(t, 3*before.Instructions, after.Instructions)
	assert.NoError(t, compiles(t, out))
}

func TestExponent(t *testing.T) {
	tests := []struct {
		name string
		f    func(n float64) float64
		want float64
	}{
		{"linear", func(n float64) float64 { return 3e-6 * n }, 1},
		{"quadratic", func(n float64) float64 { return 1e-9 * n * n }, 2},
		{"cubic", func(n float64) float64 { return 1e-12 * n * n * n }, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ps []point
			for n := 1000; n <= 64000; n *= 2 {
				ps = append(ps, point{n, result{CPUSec: tc.f(float64(n))}})
			}
			k := exponent(ps, func(r result) float64 { return r.CPUSec }, 0)
			assert.InDelta(t, tc.want, k, 1e-9)
			at := reach(ps, func(r result) float64 { return r.CPUSec }, k, tc.f(8000))
			assert.InDelta(t, 8000, at, 1e-6)
		})
	}
	assert.True(t, math.IsNaN(exponent(nil, func(r result) float64 { return r.CPUSec }, 0)))
}

// FuzzShape: the reader and the rewrite take any bytes without panicking,
// and whatever wazero accepts, rewritten, wazero still accepts.
func FuzzShape(f *testing.F) {
	for _, wasm := range realModules(f) {
		if len(wasm) < 4096 {
			f.Add(wasm)
		}
	}
	f.Fuzz(func(t *testing.T, wasm []byte) {
		_, _, _ = parse(wasm, true)
		out, err := instrument(wasm)
		if err != nil || compiles(t, wasm) != nil {
			return
		}
		assert.NoError(t, compiles(t, out))
	})
}

// Each compile bomb of host/testdata/hostile/compile (gen.go) must break
// the limit README.md says refuses it, and every real module none.
func TestProposedLimits(t *testing.T) {
	tests := []struct {
		file string
		want []string // limits broken, by name
	}{
		{"many_locals", []string{"LocalsPerFunction", "Locals", "CompileCost"}},
		{"many_loops", []string{"LoopsPerFunction", "ControlPerFunction", "CompileCost"}},
		{"nested_loops", []string{"BlockDepth", "LoopsPerFunction", "ControlPerFunction", "CompileCost"}},
		{"br_table_huge", []string{"BrTableTargets", "ControlPerFunction", "FunctionBodyBytes", "CompileCost"}},
		{"deep_blocks", []string{"BlockDepth", "ControlPerFunction", "InstructionsPerFunction", "FunctionBodyBytes", "CompileCost"}},
		{"branch_chain", []string{"ControlPerFunction"}},
		{"phi_bomb", []string{"LocalsPerFunction", "LoopsPerFunction"}},
		{"stack_bomb", []string{"StackHeight", "CompileCost"}},
		{"global_reload", []string{"Globals", "MutableGlobals"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			wasm, err := os.ReadFile(filepath.Join("../../host/testdata/hostile/compile", tc.file+".wasm"))
			require.NoError(t, err)
			sh, err := withCost(wasm)
			require.NoError(t, err)
			var broken []string
			for _, b := range proposed.check(sh) {
				broken = append(broken, b[:strings.IndexByte(b, ':')])
			}
			assert.ElementsMatch(t, tc.want, broken)
		})
	}
	for name, wasm := range realModules(t) {
		t.Run(name, func(t *testing.T) {
			sh, err := withCost(wasm)
			require.NoError(t, err)
			assert.Empty(t, proposed.check(sh))
		})
	}
}
