package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
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
		{"nested_loops", func(s shape) int { return s.BlockDepth }, n + 1}, // + the function's own
		{"nested_ifs", func(s shape) int { return s.BlockDepth }, n + 1},
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
			_, sh, err := parse(s.gen(n, n).encode())
			require.NoError(t, err)
			assert.Equal(t, tc.want, tc.got(sh))
		})
	}
}

// realModules are the committed modules the tests can read.
func realModules(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("../../testdata/*.wasm")
	require.NoError(t, err)
	paths = append(paths, "../../../cmd/wasmreg/internal/demo/mlp.wasm")
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out[filepath.Base(p)] = b
	}
	require.NotEmpty(t, out)
	return out
}

// The checked module is the host's rewrite of the module: one more
// function ($slow), three more globals, and wazero compiles it.
func TestInstrumentIsTheHostsRewrite(t *testing.T) {
	for name, wasm := range realModules(t) {
		t.Run(name, func(t *testing.T) {
			_, before, err := parse(wasm)
			require.NoError(t, err)
			out, err := instrument(wasm)
			if err != nil {
				t.Skipf("the rewrite refuses it: %v", err) // an imported table, say
			}
			_, after, err := parse(out)
			require.NoError(t, err)
			assert.Equal(t, before.Functions+1, after.Functions)
			assert.Equal(t, before.Globals+3, after.Globals)
			assert.Greater(t, after.Cost, before.Cost)
			if testing.Short() && len(wasm) > 1<<20 {
				return
			}
			assert.NoError(t, compiles(t, out))
		})
	}
}

func TestReplicate(t *testing.T) {
	wasm := realModules(t)["guest.wasm"]
	_, before, err := parse(wasm)
	require.NoError(t, err)
	out, err := replicate(wasm, 3)
	require.NoError(t, err)
	_, after, err := parse(out)
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

// Each compile bomb of host/testdata/hostile/compile (gen.go) breaks the
// limits README.md says refuse it (each checked alone, CompileCost with
// the interrupt checks), and every real module none.
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
		{"branch_chain", []string{"ControlPerFunction", "CompileCost"}},
		{"phi_bomb", []string{"LoopsPerFunction", "CompileCost"}},
		{"stack_bomb", []string{"StackHeight", "CompileCost"}},
		{"global_reload", []string{"Globals", "MutableGlobals"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			wasm, err := os.ReadFile(filepath.Join("../../testdata/hostile/compile", tc.file+".wasm"))
			require.NoError(t, err)
			got, err := broken(wasm, proposed)
			require.NoError(t, err)
			assert.ElementsMatch(t, tc.want, got)
		})
	}
	for name, wasm := range realModules(t) {
		t.Run(name, func(t *testing.T) {
			got, err := broken(wasm, proposed)
			require.NoError(t, err)
			assert.Empty(t, got)
		})
	}
}

// TestEstimateBoundsMeasurements: for every measured point of results/
// (each module rebuilt, with the host's checks where it was measured
// with them) whose functions stay within the per-function limits, the
// compile CPU time measured is at most the estimate (wasmbin's
// CompileCost). Points under 10 ms, where fixed costs and noise
// dominate, are left out, and modules over 16 MiB (4 MiB with -short),
// which no per-function limit keeps and the module size limit bounds.
func TestEstimateBoundsMeasurements(t *testing.T) {
	files, err := filepath.Glob("results/*.json")
	require.NoError(t, err)
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var all []series
		if json.Unmarshal(b, &all) != nil || len(all) == 0 || all[0].Shape == "" {
			continue // not a sweep
		}
		for _, s := range all {
			g, ok := shapeByName(s.Shape)
			require.True(t, ok, "%s: shape %q", f, s.Shape)
			for _, p := range s.Points {
				if p.failed() || p.CPUSec < 0.01 || p.Bytes > 16<<20 || (testing.Short() && p.Bytes > 4<<20) {
					continue
				}
				raw, err := build(g, p.N, s.M, false)
				require.NoError(t, err)
				if !withinFunctionLimits(raw, proposed) {
					continue
				}
				wasm := raw
				if s.Checked {
					wasm, err = instrument(raw)
					require.NoError(t, err)
				}
				est, err := moduleCost(wasm)
				require.NoError(t, err)
				assert.LessOrEqual(t, p.CPUSec, est/1e6, "%s: %s n=%d m=%d checked=%v", filepath.Base(f), s.Shape, p.N, s.M, s.Checked)
				checked++
			}
		}
	}
	assert.Greater(t, checked, 100, "points checked")
}
