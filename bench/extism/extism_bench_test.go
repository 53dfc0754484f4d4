// Package extism_test puts wasmreg side by side with Extism's Go SDK, its
// closest peer, in one run. It is a module of its own so that wasmreg never
// depends on Extism:
//
//	cd bench/extism && go test -run '^$' -bench . -count 3
//
// Both run on the same wazero (this module resolves one version for both;
// see go.mod), with each library's default settings: wasmreg's can stop a
// running call (close on context done), Extism's without a manifest
// timeout cannot, which spares Extism that cost.
//
//   - BenchmarkInstance: what a new model or plugin instance costs.
//     wasmreg: Factory.Build + Model.Close of host/testdata/echo.wasm.
//     Extism: CompiledPlugin.Instance + Plugin.Close of testdata/echo.wasm
//     (each instance also instantiates Extism's kernel module).
//   - BenchmarkCall: a 64-byte request in, the same 64 bytes out.
//     wasmreg: Model.Predict of testdata/roundtrip.wasm, whose
//     wasmreg_predict copies the request into its memory and outputs it.
//     Extism: Plugin.Call of testdata/echo.wasm's "echo", which does the
//     same with Extism's ABI, as Extism's PDKs do.
package extism_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	extism "github.com/extism/go-sdk"

	"github.com/wasmreg/wasmreg/host"
)

func readFile(tb testing.TB, path ...string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(path...))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// wasmregFactory loads wasm into a host with the default settings (and a
// quiet logger), closed with the benchmark.
func wasmregFactory(tb testing.TB, wasm []byte) *host.Factory {
	tb.Helper()
	ctx := context.Background()
	h, err := host.New(ctx, host.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close(ctx) })
	f, err := h.Load(ctx, wasm)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// extismPlugin compiles the Extism echo plugin with Extism's defaults,
// closed with the benchmark.
func extismPlugin(tb testing.TB) *extism.CompiledPlugin {
	tb.Helper()
	ctx := context.Background()
	manifest := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: readFile(tb, "testdata", "echo.wasm")}}}
	p, err := extism.NewCompiledPlugin(ctx, manifest, extism.PluginConfig{}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close(ctx) })
	return p
}

// TestRoundTrip checks that both guests answer with the request.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	m, err := wasmregFactory(t, readFile(t, "testdata", "roundtrip.wasm")).BuildModel(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	p, err := extismPlugin(t).Instance(ctx, extism.PluginInstanceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	for _, n := range []int{0, 1, 7, 8, 9, 64, 1000} {
		req := bytes.Repeat([]byte("0123456789abcdef"), 63)[:n]
		out, err := m.Predict(ctx, req)
		if err != nil || !bytes.Equal(out, req) {
			t.Errorf("wasmreg, %d bytes: got %q, %v", n, out, err)
		}
		rc, out, err := p.Call("echo", req)
		if err != nil || rc != 0 || !bytes.Equal(out, req) {
			t.Errorf("extism, %d bytes: got %q, code %d, %v", n, out, rc, err)
		}
	}
}

// BenchmarkInstance measures a new instance and its close: wasmreg's
// Factory.Build + Model.Close of a small WAT factory against Extism's
// CompiledPlugin.Instance + Plugin.Close of a small WAT plugin.
func BenchmarkInstance(b *testing.B) {
	config := []byte(`{"scale":2}`)
	b.Run("wasmreg", func(b *testing.B) {
		f := wasmregFactory(b, readFile(b, "..", "..", "host", "testdata", "echo.wasm"))
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			m, err := f.Build(ctx, config)
			if err != nil {
				b.Fatal(err)
			}
			m.Close(ctx)
		}
	})
	b.Run("extism", func(b *testing.B) {
		compiled := extismPlugin(b)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			p, err := compiled.Instance(ctx, extism.PluginInstanceConfig{})
			if err != nil {
				b.Fatal(err)
			}
			p.Close(ctx)
		}
	})
}

// BenchmarkCall measures one call with a 64-byte request and the same 64
// bytes as the response.
func BenchmarkCall(b *testing.B) {
	req := bytes.Repeat([]byte("y"), 64)
	b.Run("wasmreg", func(b *testing.B) {
		ctx := context.Background()
		m, err := wasmregFactory(b, readFile(b, "testdata", "roundtrip.wasm")).BuildModel(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close(ctx)
		b.ReportAllocs()
		for b.Loop() {
			out, err := m.Predict(ctx, req)
			if err != nil || len(out) != len(req) {
				b.Fatal(err, len(out))
			}
		}
	})
	b.Run("extism", func(b *testing.B) {
		ctx := context.Background()
		p, err := extismPlugin(b).Instance(ctx, extism.PluginInstanceConfig{})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close(ctx)
		b.ReportAllocs()
		for b.Loop() {
			rc, out, err := p.Call("echo", req)
			if err != nil || rc != 0 || len(out) != len(req) {
				b.Fatal(err, rc, len(out))
			}
		}
	})
}
