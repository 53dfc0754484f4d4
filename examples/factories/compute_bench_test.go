package factories_test

// Compute benchmarks: the trained digits MLP (64 → 32 relu → 10 softmax)
// answering JSON requests in a C guest (mlpc, wasm SIMD), in a Go guest
// (mlp) and natively, side by side in one run. Each group has its native
// baseline as the sibling ".../native", so that internal/benchratio prints
// the ratio of every group:
//
//	go test -run '^$' -bench Digits ./examples/factories | go run ./internal/benchratio
//
// The native side does what a guest does for a request: decode it with
// encoding/json, run mlpnet's Forward, encode the response with
// encoding/json (the Go factory's own code, outside wasm). The groups
// "c-nointerrupt" and "go-nointerrupt" run the guests on a host with
// host.WithoutInterruption(), for hosts that trust their factories.

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/examples/digits"
	"github.com/wasmreg/wasmreg/examples/mlpnet"
	"github.com/wasmreg/wasmreg/examples/mlpnet/mlpjson"
	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

// computeBatchRows is the number of digits in one batch request.
const computeBatchRows = 100

// computeGroups are the guests and host settings compared with native Go.
var computeGroups = []struct {
	name        string
	wasm        func(testing.TB) []byte
	grants      []string
	noInterrupt bool
}{
	{"c", mlpcSIMDWasm, []string{host.CapArtifact}, false},
	{"c-nointerrupt", mlpcSIMDWasm, []string{host.CapArtifact}, true},
	{"go", computeGoWasm, []string{host.CapRandom, host.CapArtifact}, false},
	{"go-nointerrupt", computeGoWasm, []string{host.CapRandom, host.CapArtifact}, true},
}

// computeGoWasm builds the Go mlp factory once per test binary (the same
// cache entry as mlpWasm).
func computeGoWasm(tb testing.TB) []byte {
	tb.Helper()
	root, err := wasmbuild.RepoRoot()
	require.NoError(tb, err)
	path, err := wasmbuild.Shared.Get("mlp", func(out string) error {
		return wasmbuild.Go(context.Background(), root, "./examples/factories/mlp", out)
	})
	require.NoError(tb, err)
	wasm, err := os.ReadFile(path)
	require.NoError(tb, err)
	return wasm
}

// computeCacheDir is a wazero compilation cache shared by the benchmarks'
// hosts, so that -count 3 compiles each guest once per host setting
// (wazero's cache key includes the interruption setting). It lives in the
// build directory of wasmbuild.Shared, which TestMain removes; an empty
// file built there says where that is.
func computeCacheDir(tb testing.TB) string {
	tb.Helper()
	path, err := wasmbuild.Shared.Get("compute-cache-anchor", func(out string) error {
		return os.WriteFile(out, nil, 0o600)
	})
	require.NoError(tb, err)
	return filepath.Join(filepath.Dir(path), "compute-wazero-cache")
}

// computeModel builds the digits model in the group's guest.
func computeModel(b *testing.B, wasm []byte, grants []string, noInterrupt bool) *host.Model {
	b.Helper()
	ctx := context.Background()
	opts := []host.Option{
		host.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		host.WithCompilationCacheDir(computeCacheDir(b)),
		host.WithGrants(grants...),
		host.WithArtifacts(host.ArtifactMap{"digits": digits.Weights}),
	}
	if noInterrupt {
		opts = append(opts, host.WithoutInterruption())
	}
	h, err := host.New(ctx, opts...)
	require.NoError(b, err)
	b.Cleanup(func() { h.Close(ctx) })
	f, err := h.Load(ctx, wasm)
	require.NoError(b, err)
	m, err := f.BuildModel(ctx, []byte(`{"weights":"digits"}`))
	require.NoError(b, err)
	return m
}

// computeRequests returns the held-out digits as requests: one per row,
// or batches of computeBatchRows rows (wrapping around).
func computeRequests(b *testing.B, batch bool) [][]byte {
	b.Helper()
	X, _, err := digits.HeldOutSamples()
	require.NoError(b, err)
	var reqs [][]byte
	for i := range X {
		var v any = X[i]
		if batch {
			if i%computeBatchRows != 0 {
				continue
			}
			rows := make([][]float32, computeBatchRows)
			for k := range rows {
				rows[k] = X[(i+k)%len(X)]
			}
			v = map[string]any{"inputs": rows}
		}
		req, err := json.Marshal(v)
		require.NoError(b, err)
		reqs = append(reqs, req)
	}
	return reqs
}

// computeRun benchmarks every group, native and in wasmreg.
func computeRun(b *testing.B, batch bool) {
	reqs := computeRequests(b, batch)
	rowsPerOp := 1
	if batch {
		rowsPerOp = computeBatchRows
	}
	net, err := mlpnet.Decode(digits.Weights)
	require.NoError(b, err)
	report := func(b *testing.B) {
		if batch {
			b.ReportMetric(float64(rowsPerOp*b.N)/b.Elapsed().Seconds(), "rows/s")
		}
	}
	for _, g := range computeGroups {
		b.Run(g.name, func(b *testing.B) {
			b.Run("native", func(b *testing.B) {
				m := mlpjson.NewModel(net)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := m.Predict(reqs[i%len(reqs)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
				report(b)
			})
			b.Run("wasmreg", func(b *testing.B) {
				m := computeModel(b, g.wasm(b), g.grants, g.noInterrupt)
				ctx := context.Background()
				// The guest must answer as native Go does, byte for byte.
				got, err := m.Predict(ctx, reqs[0])
				require.NoError(b, err)
				want, err := mlpjson.NewModel(net).Predict(reqs[0])
				require.NoError(b, err)
				require.Equal(b, string(want), string(got))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := m.Predict(ctx, reqs[i%len(reqs)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
				report(b)
			})
		})
	}
}

// BenchmarkDigitsPredict predicts one held-out digit per op: JSON request
// in, JSON response out.
func BenchmarkDigitsPredict(b *testing.B) { computeRun(b, false) }

// BenchmarkDigitsBatch predicts a batch of 100 digits per op, one request
// {"inputs": [...]}, and reports rows/s.
func BenchmarkDigitsBatch(b *testing.B) { computeRun(b, true) }
