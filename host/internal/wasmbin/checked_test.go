package wasmbin_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host/internal/interrupt"
	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

// TestCheckedCompileCost: the host compiles a module with its interrupt
// checks, and bounds the estimate for that module. Every real module's is
// under a third of the default CompileCost, and above its estimate as
// written (the checks only add).
func TestCheckedCompileCost(t *testing.T) {
	lim := wasmbin.DefaultLimits()
	mods := wasmbin.RealModules(t)
	names := make([]string, 0, len(mods))
	for name := range mods {
		if _, refused := wasmbin.RefusedFixtures[name]; !refused {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		m, err := wasmbin.Decode(mods[name], lim)
		if err != nil {
			continue // not a module (TestRealModules checks wazero refuses it too)
		}
		out, _, err := interrupt.Instrument(m, interrupt.Options{})
		if err != nil {
			t.Logf("%s: the rewrite refuses it: %v", name, err)
			continue
		}
		checked, err := wasmbin.Decode(out, wasmbin.Limits{})
		require.NoError(t, err, name)
		assert.Greater(t, checked.CompileCost(), m.CompileCost(), name)
		assert.LessOrEqual(t, 3*checked.CompileCost(), lim.CompileCost,
			"%s: its estimate with the checks, %d µs, is not under a third of CompileCost", name, checked.CompileCost())
		if checked.CompileCost() > 100_000 {
			t.Logf("%-40s %8d µs as written, %8d µs with the checks", name, m.CompileCost(), checked.CompileCost())
		}
	}
}

// BenchmarkDecodeChecked decodes the demo's Go module with the interrupt
// checks, as the host does a second time to bound its compile cost: the
// price of that check, beside BenchmarkDecode.
func BenchmarkDecodeChecked(b *testing.B) {
	root, err := wasmbuild.RepoRoot()
	require.NoError(b, err)
	wasm, err := os.ReadFile(filepath.Join(root, "cmd/wasmreg/internal/demo/mlp.wasm"))
	require.NoError(b, err)
	m, err := wasmbin.Decode(wasm, wasmbin.DefaultLimits())
	require.NoError(b, err)
	out, _, err := interrupt.Instrument(m, interrupt.Options{})
	require.NoError(b, err)
	lim := wasmbin.Limits{CompileCost: wasmbin.DefaultLimits().CompileCost}
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wasmbin.Decode(out, lim); err != nil {
			b.Fatal(err)
		}
	}
}
