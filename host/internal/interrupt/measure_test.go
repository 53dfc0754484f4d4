package interrupt

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"

	"github.com/wasmreg/wasmreg/examples/digits"
	"github.com/wasmreg/wasmreg/examples/mlpnet"
	"github.com/wasmreg/wasmreg/examples/mlpnet/mlpjson"
)

// TestMeasureCosts is BenchmarkPredict, BenchmarkCalls and
// BenchmarkCompileGo measured the way a machine shared with other work
// allows: the variants interleaved, round after round, and each one's
// fastest batch and first quartile reported (a mean, as benchmarks report,
// mostly measures the other processes). It only prints; run it with
//
//	INTERRUPT_MEASURE=1 go test -run TestMeasureCosts -v ./host/internal/interrupt
func TestMeasureCosts(t *testing.T) {
	if os.Getenv("INTERRUPT_MEASURE") == "" {
		t.Skip("set INTERRUPT_MEASURE=1 to measure")
	}
	X, _, err := digits.HeldOutSamples()
	require.NoError(t, err)
	var rows [][]byte
	for _, x := range X {
		req, err := json.Marshal(x)
		require.NoError(t, err)
		rows = append(rows, req)
	}
	net, err := mlpnet.Decode(digits.Weights)
	require.NoError(t, err)
	native := mlpjson.NewModel(net)
	echo := []byte(strings.Repeat("x", 64))
	ctx := context.Background()

	type variant struct {
		name string
		call func(i int) error
	}
	measure := func(what string, batch, rounds int, vs []variant) {
		times := make([][]time.Duration, len(vs))
		for r := 0; r < rounds; r++ {
			for k, v := range vs {
				began := time.Now()
				for i := 0; i < batch; i++ {
					require.NoError(t, v.call(r*batch+i))
				}
				times[k] = append(times[k], time.Since(began)/time.Duration(batch))
			}
		}
		var lines []string
		mins := map[string]time.Duration{}
		for k, v := range vs {
			ts := times[k]
			sort.Slice(ts, func(a, b int) bool { return ts[a] < ts[b] })
			mins[v.name] = ts[0]
			lines = append(lines, fmt.Sprintf("  %-16s min %10v  p25 %10v", v.name, ts[0], ts[len(ts)/4]))
		}
		var ratios []string
		for _, base := range []string{"native", "raw", "unchecked", "old"} {
			if b, ok := mins[base]; ok && mins["new"] != 0 {
				ratios = append(ratios, fmt.Sprintf("new/%s %.2f", base, float64(mins["new"])/float64(b)))
			}
		}
		for _, kind := range []string{"loop=", "entry="} {
			if b, ok := mins[kind+"none"]; ok {
				for _, v := range vs {
					if strings.HasPrefix(v.name, kind) {
						ratios = append(ratios, fmt.Sprintf("%s/none %.2f", v.name, float64(mins[v.name])/float64(b)))
					}
				}
			}
		}
		if n, ok := mins["native"]; ok {
			ratios = append(ratios, fmt.Sprintf("raw/native %.2f", float64(mins["raw"])/float64(n)))
		}
		t.Logf("%s:\n%s\n  %s", what, strings.Join(lines, "\n"), strings.Join(ratios, ", "))
	}

	for _, guest := range []struct {
		rm       realModule
		requests [][]byte
		batch    int
	}{
		{realModule{name: "digits-c", wasm: mlpcWasm, config: `{"weights":"digits"}`}, rows, 50},
		{realModule{name: "digits-go", wasm: demoWasm, config: `{"weights":"digits"}`}, rows, 20},
		{realModule{name: "echo-wat", wasm: func(t testing.TB) []byte { return mustRead(t, "host/testdata/echo.wasm") }, config: string(echo)}, [][]byte{echo}, 200},
	} {
		var vs []variant
		if guest.rm.name != "echo-wat" {
			vs = append(vs, variant{"native", func(i int) error {
				_, err := native.Predict(guest.requests[i%len(guest.requests)])
				return err
			}})
		}
		for _, v := range benchVariants {
			g := benchGuest(t, guest.rm, v)
			vs = append(vs, variant{v, func(i int) error {
				req := guest.requests[i%len(guest.requests)]
				_, _, err := g.call("wasmreg_predict", req, uint64(len(req)))
				return err
			}})
		}
		measure("predict "+guest.rm.name, guest.batch, 200, vs)
	}

	fib := watToWasm(t, `(module
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (i32.lt_u (local.get $n) (i32.const 2)) (then (return (local.get $n))))
    (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1))) (call $fib (i32.sub (local.get $n) (i32.const 2))))))`)
	var vs []variant
	for _, v := range benchVariants {
		out, _, closeOnDone := benchModule(t, fib, v)
		f := instantiate(t, newGuestRuntimeWith(closeOnDone), out).ExportedFunction("fib")
		vs = append(vs, variant{v, func(int) error { _, err := f.Call(ctx, 25); return err }})
	}
	measure("fib(25), 243k calls", 2, 150, vs)

	vs = vs[:0]
	for _, v := range seqLoops {
		f := instantiate(t, newRuntime(t), watToWasm(t, seqLoopModule(v.check))).ExportedFunction("f")
		vs = append(vs, variant{"loop=" + v.name, func(int) error { _, err := f.Call(ctx, 1_000_000); return err }})
	}
	for _, v := range seqEntries {
		f := instantiate(t, newRuntime(t), watToWasm(t, seqFibModule(v.entry, v.exit))).ExportedFunction("f")
		vs = append(vs, variant{"entry=" + v.name, func(int) error { _, err := f.Call(ctx, 25); return err }})
	}
	measure("check sequences (sequences_test.go): a loop of 1e6 iterations, fib(25)", 1, 150, vs)

	wasm := demoWasm(t)
	vs = vs[:0]
	for _, v := range benchVariants {
		vs = append(vs, variant{v, func(int) error {
			out, _, closeOnDone := benchModule(t, wasm, v)
			r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(closeOnDone))
			defer r.Close(ctx)
			_, err := r.CompileModule(ctx, out)
			return err
		}})
	}
	measure("compile the Go guest (mlp.wasm), the rewrite included", 1, 4, vs)
}
