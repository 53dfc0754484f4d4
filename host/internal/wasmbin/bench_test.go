package wasmbin

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

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
	start := cpuTime()
	for b.Loop() {
		if _, err := Decode(wasm, lim); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// cpuTime is the process's CPU time (user and system, every thread, the
// garbage collector's included), which waiting for a busy machine's
// cores does not inflate as it does the wall time of ns/op.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	if d := cpuTime() - start; d > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
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
	start := cpuTime()
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
	reportCPU(b, start)
}
