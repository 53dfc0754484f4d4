package host_test

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmreg/wasmreg/host"
)

// The benchmarks here put wasmreg side by side with raw wazero doing the
// same work with the same runtime settings (close-on-context-done, 64 MiB
// memory limit, anonymous instances, _initialize, a cheap rand source).
// docs/PERFORMANCE.md reports their ratios; `make bench` prints them.

// rawCall is the per-call state of the raw baseline's host functions.
type rawCall struct {
	input []byte
	out   []byte
}

type rawKey struct{}

// rawRuntime is raw wazero with the minimum host functions the fixtures
// need: input, output, error and log.
func rawRuntime(b *testing.B) wazero.Runtime {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(host.DefaultMemoryLimit/65536))
	b.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	i32 := api.ValueTypeI32
	_, err := r.NewHostModuleBuilder("wasmreg").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		c := ctx.Value(rawKey{}).(*rawCall)
		m.Memory().Write(api.DecodeU32(s[0]), c.input)
	}), []api.ValueType{i32}, nil).Export("input").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		c := ctx.Value(rawKey{}).(*rawCall)
		b, _ := m.Memory().Read(api.DecodeU32(s[0]), api.DecodeU32(s[1]))
		c.out = append(c.out, b...)
	}), []api.ValueType{i32, i32}, nil).Export("output").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(context.Context, api.Module, []uint64) {}),
		[]api.ValueType{i32, i32}, nil).Export("error").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(context.Context, api.Module, []uint64) {}),
		[]api.ValueType{i32, i32, i32}, nil).Export("log").
		Instantiate(ctx)
	require.NoError(b, err)
	return r
}

var rawModuleConfig = wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize").WithRandSource(crand.Reader)

func benchHost(b *testing.B, opts ...host.Option) *host.Host {
	h, err := host.New(context.Background(), append([]host.Option{host.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)...)
	require.NoError(b, err)
	b.Cleanup(func() { h.Close(context.Background()) })
	return h
}

// benchBuild measures a build and close with the host's defaults
// ("wasmreg": a snapshotted factory recycles its instances), without
// recycling ("fresh": a new instance every build) and with raw wazero.
func benchBuild(b *testing.B, wasm []byte) {
	config := []byte(`{"scale":2}`)
	for _, tc := range []struct {
		name string
		opts []host.Option
	}{{"wasmreg", nil}, {"fresh", []host.Option{host.WithRecycling(0)}}} {
		b.Run(tc.name, func(b *testing.B) {
			h := benchHost(b, tc.opts...)
			f, err := h.Load(context.Background(), wasm)
			require.NoError(b, err)
			ctx := context.Background()
			b.ReportAllocs()
			faults := minorFaults()
			for b.Loop() {
				m, err := f.Build(ctx, config)
				if err != nil {
					b.Fatal(err)
				}
				m.Close(ctx)
			}
			// The page faults of the process per build: mostly the guest's
			// first writes to copy-on-write pages of its memory image.
			b.ReportMetric(float64(minorFaults()-faults)/float64(b.N), "faults/op")
		})
	}
	b.Run("raw-wazero", func(b *testing.B) {
		r := rawRuntime(b)
		compiled, err := r.CompileModule(context.Background(), wasm)
		require.NoError(b, err)
		c := &rawCall{input: config}
		ctx := context.WithValue(context.Background(), rawKey{}, c)
		stack := make([]uint64, 1)
		b.ReportAllocs()
		for b.Loop() {
			mod, err := r.InstantiateModule(ctx, compiled, rawModuleConfig)
			if err != nil {
				b.Fatal(err)
			}
			stack[0] = uint64(len(config))
			if err := mod.ExportedFunction("wasmreg_build").CallWithStack(ctx, stack); err != nil || stack[0] != 0 {
				b.Fatal(err, stack[0])
			}
			mod.Close(ctx)
		}
	})
}

// minorFaults returns the process's minor page faults so far.
func minorFaults() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Minflt
}

// BenchmarkBuild measures Factory.Build + Model.Close of a small WAT guest
// and of a Go guest against raw wazero's instantiate + wasmreg_build +
// close, with recycling (the default) and without ("fresh").
func BenchmarkBuild(b *testing.B) {
	b.Run("wat", func(b *testing.B) { benchBuild(b, fixture(b, "echo.wasm")) })
	b.Run("go", func(b *testing.B) { benchBuild(b, goGuest(b)) })
}

// BenchmarkPredict measures a predict round trip with a 64-byte request and
// a 64-byte response against a raw wazero call doing the same input and
// output host calls. Both hand the caller a response of its own, as Predict
// must: the raw side's output function appends to a nil slice each call
// rather than reusing one buffer, which would skip the copy's allocation.
func BenchmarkPredict(b *testing.B) {
	config := bytes.Repeat([]byte("x"), 64)
	request := bytes.Repeat([]byte("y"), 64)
	wasm := fixture(b, "echo.wasm")
	b.Run("wasmreg", func(b *testing.B) {
		h := benchHost(b)
		f, err := h.Load(context.Background(), wasm)
		require.NoError(b, err)
		ctx := context.Background()
		m, err := f.Build(ctx, config)
		require.NoError(b, err)
		defer m.Close(ctx)
		b.ReportAllocs()
		for b.Loop() {
			out, err := m.Predict(ctx, request)
			if err != nil || len(out) != 64 {
				b.Fatal(err, len(out))
			}
		}
	})
	b.Run("raw-wazero", func(b *testing.B) {
		r := rawRuntime(b)
		c := &rawCall{input: config}
		ctx := context.WithValue(context.Background(), rawKey{}, c)
		mod, err := r.InstantiateWithConfig(ctx, wasm, rawModuleConfig)
		require.NoError(b, err)
		stack := []uint64{uint64(len(config))}
		require.NoError(b, mod.ExportedFunction("wasmreg_build").CallWithStack(ctx, stack))
		predict := mod.ExportedFunction("wasmreg_predict")
		c.input = request
		b.ReportAllocs()
		for b.Loop() {
			c.out = nil
			stack[0] = uint64(len(request))
			if err := predict.CallWithStack(ctx, stack); err != nil || stack[0] != 0 || len(c.out) != 64 {
				b.Fatal(err, len(c.out))
			}
		}
	})
}

// BenchmarkBuildParallel builds a model, predicts once and closes it from
// every core, for a small WAT guest and a Go guest, next to raw wazero
// doing the same (instantiate, wasmreg_build, wasmreg_predict, close), and
// to wasmreg without recycling ("fresh"). Run
// it with -cpu 1,2: the throughput scaling is ns/op at one core divided by
// ns/op at two.
func BenchmarkBuildParallel(b *testing.B) {
	for _, tc := range []struct {
		name            string
		wasm            func(testing.TB) []byte
		config, request []byte
	}{
		{"wat", func(t testing.TB) []byte { return fixture(t, "echo.wasm") }, []byte(`{"scale":2}`), []byte("x")},
		{"go", goGuest, []byte(`{"scale":2}`), []byte("[1,2,3]")},
	} {
		for _, v := range []struct {
			name string
			opts []host.Option
		}{{"wasmreg", nil}, {"fresh", []host.Option{host.WithRecycling(0)}}} {
			b.Run(tc.name+"/"+v.name, func(b *testing.B) {
				h := benchHost(b, v.opts...)
				f, err := h.Load(context.Background(), tc.wasm(b))
				require.NoError(b, err)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					for pb.Next() {
						m, err := f.Build(ctx, tc.config)
						if err != nil {
							b.Error(err)
							return
						}
						if _, err := m.Predict(ctx, tc.request); err != nil {
							b.Error(err)
							return
						}
						m.Close(ctx)
					}
				})
			})
		}
		b.Run(tc.name+"/raw-wazero", func(b *testing.B) {
			r := rawRuntime(b)
			compiled, err := r.CompileModule(context.Background(), tc.wasm(b))
			require.NoError(b, err)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := &rawCall{}
				ctx := context.WithValue(context.Background(), rawKey{}, c)
				stack := make([]uint64, 1)
				for pb.Next() {
					mod, err := r.InstantiateModule(ctx, compiled, rawModuleConfig)
					if err != nil {
						b.Error(err)
						return
					}
					c.input, stack[0] = tc.config, uint64(len(tc.config))
					if err := mod.ExportedFunction("wasmreg_build").CallWithStack(ctx, stack); err != nil || stack[0] != 0 {
						b.Error(err, stack[0])
						return
					}
					c.input, c.out, stack[0] = tc.request, nil, uint64(len(tc.request))
					if err := mod.ExportedFunction("wasmreg_predict").CallWithStack(ctx, stack); err != nil || stack[0] != 0 {
						b.Error(err, stack[0])
						return
					}
					mod.Close(ctx)
				}
			})
		})
	}
}

// BenchmarkModelMemory reports the memory each live model holds, for a
// small WAT guest and a Go guest: its Go heap, plus its guest memory's
// pages that are resident and its own (the host maps guest memory outside
// the Go heap, and a snapshot's image pages are shared by every model until
// one writes them).
func BenchmarkModelMemory(b *testing.B) {
	for _, tc := range []struct {
		name string
		wasm func(testing.TB) []byte
	}{
		{"wat", func(t testing.TB) []byte { return fixture(t, "echo.wasm") }},
		{"go", goGuest},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := benchHost(b)
			f, err := h.Load(context.Background(), tc.wasm(b))
			require.NoError(b, err)
			const models = 50
			for b.Loop() {
				before := heapInUse()
				ms := make([]*host.Model, models)
				for i := range ms {
					ms[i], err = f.BuildModel(context.Background(), nil)
					require.NoError(b, err)
				}
				after := heapInUse()
				var guest int64
				for _, m := range ms {
					r := host.GuestResident(m)
					require.GreaterOrEqual(b, r, int64(0), "/proc/self/pagemap is readable")
					guest += r
				}
				b.ReportMetric(float64(int64(after-before)+guest)/models, "B/model")
				b.ReportMetric(float64(guest)/models, "guest-B/model")
				for _, m := range ms {
					m.Close(context.Background())
				}
			}
		})
	}
}

// BenchmarkPredictParallel predicts on one model from every core, with one
// instance (calls queue) and with a pool of instances.
func BenchmarkPredictParallel(b *testing.B) {
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			h, err := host.New(context.Background(), host.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
				host.WithModelInstances(n), host.WithGrants(host.CapClock, host.CapRandom, host.CapArtifact))
			require.NoError(b, err)
			defer h.Close(context.Background())
			f, err := h.Load(context.Background(), fixture(b, "guest.wasm"))
			require.NoError(b, err)
			m, err := f.Build(context.Background(), nil)
			require.NoError(b, err)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					// "m": one clock_monotonic call, some guest work.
					if _, err := m.Predict(context.Background(), []byte("m")); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
