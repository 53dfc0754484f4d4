package interrupt

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"

	"github.com/wasmreg/wasmreg/examples/digits"
	"github.com/wasmreg/wasmreg/examples/mlpnet"
	"github.com/wasmreg/wasmreg/examples/mlpnet/mlpjson"
)

// The benchmarks put side by side, in one run, a guest compiled
//
//   - raw: as the module is, on wazero with close-on-context-done (the
//     host's raw-wazero baseline, host/bench_test.go);
//   - unchecked: as the module is, without close-on-context-done (no way
//     to stop it: the floor);
//   - old: rewritten as host/interrupt.go did before issue 9, checks at
//     loop headers only (old_test.go);
//   - new: rewritten by Instrument.
//
// Compare with benchstat:
//
//	go test -run '^$' -bench . -count 6 ./host/internal/interrupt | tee bench.txt
//	benchstat -col /variant bench.txt

var benchVariants = []string{"raw", "unchecked", "old", "new"}

// benchModule returns wasm in the form of variant, and whether it runs
// with close-on-context-done.
func benchModule(t testing.TB, wasm []byte, variant string) ([]byte, *Plan, bool) {
	switch variant {
	case "raw":
		return wasm, nil, true
	case "unchecked":
		return wasm, nil, false
	case "old":
		return instrumentOld(t, wasm), nil, false
	}
	out, plan := instrument(t, wasm, Options{})
	return out, plan, false
}

// benchGuests caches the built models across the -count rounds: the Go
// guest takes seconds to compile.
var benchGuests sync.Map // "guest/variant" -> *guestRun

func benchGuest(b testing.TB, rm realModule, variant string) *guestRun {
	key := rm.name + "/" + variant
	if g, ok := benchGuests.Load(key); ok {
		return g.(*guestRun)
	}
	wasm, plan, closeOnDone := benchModule(b, rm.wasm(b), variant)
	r := newGuestRuntimeWith(closeOnDone)
	g, err := startGuest(nopCleanup{}, r, wasm, plan, 0)
	require.NoError(b, err)
	params := []uint64{uint64(len(rm.config))}
	_, _, err = g.call("wasmreg_build", []byte(rm.config), params...)
	require.NoError(b, err)
	benchGuests.Store(key, g)
	return g
}

// nopCleanup lets a benchmark's guests outlive it (they are cached).
type nopCleanup struct{ testing.TB }

func (nopCleanup) Cleanup(func()) {}
func (nopCleanup) Helper()        {}

// BenchmarkPredict: one predict of the digits MLP (a held-out digit, JSON
// in and out) in the C guest (mlpc, SIMD) and in the Go guest (the demo's
// mlp.wasm), with native Go doing the same work as a baseline; and the
// echo factory's predict (64 bytes in, its config out), a small WAT guest.
func BenchmarkPredict(b *testing.B) {
	X, _, err := digits.HeldOutSamples()
	require.NoError(b, err)
	var rows [][]byte
	for _, x := range X {
		req, err := json.Marshal(x)
		require.NoError(b, err)
		rows = append(rows, req)
	}
	echo := make([]byte, 64)
	for i := range echo {
		echo[i] = 'x'
	}
	for _, guest := range []struct {
		rm       realModule
		requests [][]byte
	}{
		{realModule{name: "digits-c", wasm: mlpcWasm, config: `{"weights":"digits"}`}, rows},
		{realModule{name: "digits-go", wasm: demoWasm, config: `{"weights":"digits"}`}, rows},
		{realModule{name: "echo-wat", wasm: func(t testing.TB) []byte { return mustRead(t, "host/testdata/echo.wasm") }, config: string(echo)}, [][]byte{echo}},
	} {
		b.Run("guest="+guest.rm.name, func(b *testing.B) {
			if guest.rm.name != "echo-wat" {
				b.Run("variant=native", func(b *testing.B) {
					net, err := mlpnet.Decode(digits.Weights)
					require.NoError(b, err)
					m := mlpjson.NewModel(net)
					i := 0
					for b.Loop() {
						if _, err := m.Predict(guest.requests[i%len(guest.requests)]); err != nil {
							b.Fatal(err)
						}
						i++
					}
				})
			}
			for _, v := range benchVariants {
				b.Run("variant="+v, func(b *testing.B) {
					g := benchGuest(b, guest.rm, v)
					i := 0
					for b.Loop() {
						req := guest.requests[i%len(guest.requests)]
						if _, _, err := g.call("wasmreg_predict", req, uint64(len(req))); err != nil {
							b.Fatal(err)
						}
						i++
					}
				})
			}
		})
	}
}

// BenchmarkCalls: fib(25) by loop-free double recursion, 243k calls of a
// tiny function: the worst case of the entry checks.
func BenchmarkCalls(b *testing.B) {
	wasm := watToWasm(b, `(module
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (i32.lt_u (local.get $n) (i32.const 2)) (then (return (local.get $n))))
    (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1))) (call $fib (i32.sub (local.get $n) (i32.const 2))))))`)
	for _, v := range benchVariants {
		b.Run("variant="+v, func(b *testing.B) {
			out, _, closeOnDone := benchModule(b, wasm, v)
			mod := instantiate(b, newGuestRuntimeWith(closeOnDone), out)
			fib := mod.ExportedFunction("fib")
			ctx := context.Background()
			for b.Loop() {
				if _, err := fib.Call(ctx, 25); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCompileGo: wazero's compile of the Go guest (the demo's
// mlp.wasm) in each form, the rewrite's own time included for old and new.
func BenchmarkCompileGo(b *testing.B) {
	wasm := demoWasm(b)
	ctx := context.Background()
	for _, v := range benchVariants {
		b.Run("variant="+v, func(b *testing.B) {
			for b.Loop() {
				out, _, closeOnDone := benchModule(b, wasm, v)
				r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(closeOnDone))
				if _, err := r.CompileModule(ctx, out); err != nil {
					b.Fatal(err)
				}
				require.NoError(b, r.Close(ctx))
			}
		})
	}
}

// BenchmarkInstrument: the rewrite itself, of the Go guest.
func BenchmarkInstrument(b *testing.B) {
	m := decode(b, demoWasm(b))
	for b.Loop() {
		if _, _, err := Instrument(m, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
