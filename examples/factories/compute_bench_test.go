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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/examples/digits"
	"github.com/wasmreg/wasmreg/examples/mlpnet"
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
				m := computeNewNative(net)
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
				want, err := computeNewNative(net).Predict(reqs[0])
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

// computeNative is the Go mlp factory's model (examples/factories/mlp)
// outside wasm: the same request decoding, forward pass and response
// encoding.
type computeNative struct {
	n  *mlpnet.Network
	ws *mlpnet.Workspace
	x  []float32
}

func computeNewNative(n *mlpnet.Network) *computeNative {
	return &computeNative{n: n, ws: mlpnet.NewWorkspace(n), x: make([]float32, n.InputSize())}
}

// computeResult is the Go factory's answer for one sample.
type computeResult struct {
	Class         int       `json:"class"`
	Label         *string   `json:"label,omitempty"`
	Probabilities []float32 `json:"probabilities,omitempty"`
	Values        []float32 `json:"values,omitempty"`
}

func (m *computeNative) Predict(input []byte) ([]byte, error) {
	input = bytes.TrimSpace(input)
	var out any
	switch {
	case len(input) > 0 && input[0] == '[':
		var x []float64
		if err := json.Unmarshal(input, &x); err != nil {
			return nil, fmt.Errorf("request: want a JSON array of %d numbers: %w", m.n.InputSize(), err)
		}
		r, err := m.one(x, "")
		if err != nil {
			return nil, err
		}
		out = r
	case len(input) > 0 && input[0] == '{':
		var req struct {
			Inputs [][]float64 `json:"inputs"`
		}
		dec := json.NewDecoder(bytes.NewReader(input))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return nil, fmt.Errorf("request: want {\"inputs\": [[%d numbers], ...]}: %w", m.n.InputSize(), err)
		}
		if req.Inputs == nil {
			return nil, errors.New(`request: field "inputs" is required`)
		}
		results := make([]computeResult, len(req.Inputs))
		for i, x := range req.Inputs {
			r, err := m.one(x, fmt.Sprintf("inputs[%d]: ", i))
			if err != nil {
				return nil, err
			}
			results[i] = r
		}
		out = struct {
			Outputs []computeResult `json:"outputs"`
		}{results}
	default:
		return nil, fmt.Errorf("request: want a JSON array of %d numbers, or {\"inputs\": [[...], ...]} for a batch", m.n.InputSize())
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("response: %w", err)
	}
	return b, nil
}

func (m *computeNative) one(x []float64, where string) (computeResult, error) {
	if len(x) != len(m.x) {
		return computeResult{}, fmt.Errorf("request: %sgot %d values, want %d", where, len(x), len(m.x))
	}
	for i, v := range x {
		if math.Abs(v) > math.MaxFloat32 {
			return computeResult{}, fmt.Errorf("request: %svalue %d is %g, outside the float32 range", where, i, v)
		}
		m.x[i] = float32(v)
	}
	y := m.n.Forward(m.x, m.ws)
	r := computeResult{Class: m.n.Class(y)}
	if m.n.Labels != nil {
		r.Label = &m.n.Labels[r.Class]
	}
	if m.n.Output == "linear" {
		r.Values = slices.Clone(y)
	} else {
		r.Probabilities = slices.Clone(y)
	}
	return r, nil
}
