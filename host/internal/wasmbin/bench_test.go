package wasmbin

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

// BenchmarkDecode decodes the demo's Go module (cmd/wasmreg/internal/demo/
// mlp.wasm, 3.7 MB, 1.1 million instructions) under the default limits.
func BenchmarkDecode(b *testing.B) {
	root, err := wasmbuild.RepoRoot()
	require.NoError(b, err)
	wasm, err := os.ReadFile(filepath.Join(root, "cmd/wasmreg/internal/demo/mlp.wasm"))
	require.NoError(b, err)
	lim := DefaultLimits()
	b.SetBytes(int64(len(wasm)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(wasm, lim); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReader reads every body of the same module again with
// Instructions, as a rewrite does.
func BenchmarkReader(b *testing.B) {
	root, err := wasmbuild.RepoRoot()
	require.NoError(b, err)
	wasm, err := os.ReadFile(filepath.Join(root, "cmd/wasmreg/internal/demo/mlp.wasm"))
	require.NoError(b, err)
	m, err := Decode(wasm, DefaultLimits())
	require.NoError(b, err)
	b.SetBytes(int64(len(wasm)))
	b.ReportAllocs()
	for b.Loop() {
		for i := range m.Code {
			r := m.Instructions(i)
			for r.Next() {
			}
			if r.Err() != nil {
				b.Fatal(r.Err())
			}
		}
	}
}
