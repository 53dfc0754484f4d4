package interrupt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmreg/wasmreg/examples/digits"
	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

// A minimal host for real factories (docs/ABI.md): the "wasmreg" imports
// with the digits weights as the one artifact, and WASI.

type guestCall struct {
	input, output, errMsg []byte
}

type guestKey struct{}

func callOf(ctx context.Context) *guestCall { return ctx.Value(guestKey{}).(*guestCall) }

// newGuestRuntime returns a runtime as newRuntime does, with the imports
// factories use.
func newGuestRuntime(t testing.TB) wazero.Runtime {
	t.Helper()
	r := newGuestRuntimeWith(false)
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

// newGuestRuntimeWith returns a runtime with the factories' imports, with
// close-on-context-done or not, which the caller closes.
func newGuestRuntimeWith(closeOnDone bool) wazero.Runtime {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(closeOnDone))
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	mem := func(m api.Module, ptr, n uint64) []byte {
		b, ok := m.Memory().Read(api.DecodeU32(ptr), api.DecodeU32(n))
		if !ok {
			panic(errors.New("out of bounds"))
		}
		return b
	}
	artifact := func(m api.Module, s []uint64) ([]byte, bool) {
		if string(mem(m, s[0], s[1])) != "digits" {
			return nil, false
		}
		return digits.Weights, true
	}
	fn := func(f func(ctx context.Context, m api.Module, s []uint64)) api.GoModuleFunc { return f }
	_, err := r.NewHostModuleBuilder("wasmreg").
		NewFunctionBuilder().WithGoModuleFunction(fn(func(ctx context.Context, m api.Module, s []uint64) {
		m.Memory().Write(api.DecodeU32(s[0]), callOf(ctx).input)
	}), []api.ValueType{i32}, nil).Export("input").
		NewFunctionBuilder().WithGoModuleFunction(fn(func(ctx context.Context, m api.Module, s []uint64) {
		c := callOf(ctx)
		c.output = append(c.output, mem(m, s[0], s[1])...)
	}), []api.ValueType{i32, i32}, nil).Export("output").
		NewFunctionBuilder().WithGoModuleFunction(fn(func(ctx context.Context, m api.Module, s []uint64) {
		c := callOf(ctx)
		c.errMsg = append(c.errMsg, mem(m, s[0], s[1])...)
	}), []api.ValueType{i32, i32}, nil).Export("error").
		NewFunctionBuilder().WithGoModuleFunction(fn(func(context.Context, api.Module, []uint64) {}),
		[]api.ValueType{i32, i32, i32}, nil).Export("log").
		NewFunctionBuilder().WithGoModuleFunction(fn(func(_ context.Context, _ api.Module, s []uint64) { s[0] = 0 }),
		nil, []api.ValueType{i64}).Export("clock_now").
		NewFunctionBuilder().WithGoModuleFunction(fn(func(_ context.Context, _ api.Module, s []uint64) { s[0] = 0 }),
		nil, []api.ValueType{i64}).Export("clock_monotonic").
		NewFunctionBuilder().WithGoModuleFunction(fn(func(_ context.Context, m api.Module, s []uint64) {
		clear(mem(m, s[0], s[1]))
	}), []api.ValueType{i32, i32}, nil).Export("random_fill").
		NewFunctionBuilder().WithGoModuleFunction(fn(func(context.Context, api.Module, []uint64) {}),
		[]api.ValueType{i64}, nil).Export("random_seed").
		NewFunctionBuilder().WithGoModuleFunction(fn(func(_ context.Context, m api.Module, s []uint64) {
		if b, ok := artifact(m, s); ok {
			s[0] = uint64(len(b))
		} else {
			s[0] = api.EncodeI64(-1)
		}
	}), []api.ValueType{i32, i32}, []api.ValueType{i64}).Export("artifact_size").
		NewFunctionBuilder().WithGoModuleFunction(fn(func(_ context.Context, m api.Module, s []uint64) {
		b, ok := artifact(m, s)
		dst := mem(m, s[3], s[4])
		switch off := int64(s[2]); {
		case !ok:
			s[0] = api.EncodeI64(-1)
		case off < 0:
			s[0] = api.EncodeI64(-2)
		case off >= int64(len(b)):
			s[0] = 0
		default:
			s[0] = uint64(copy(dst, b[off:]))
		}
	}), []api.ValueType{i32, i32, i64, i32, i32}, []api.ValueType{i64}).Export("artifact_read").
		Instantiate(ctx)
	if err != nil {
		panic(err)
	}
	return r
}

// realModule is a factory and the work it does normally.
type realModule struct {
	name    string
	wasm    func(testing.TB) []byte
	config  string
	request string
}

func digitsRequest(t testing.TB) string {
	X, _, err := digits.HeldOutSamples()
	require.NoError(t, err)
	b, err := json.Marshal(map[string]any{"inputs": X[:20]})
	require.NoError(t, err)
	return string(b)
}

func realModules(t testing.TB) []realModule {
	return []realModule{
		{"go guest", goGuestWasm, `{"scale":2}`, `[1,2,3.5]`},
		{"mlpc (C, simd128)", mlpcWasm, `{"weights":"digits"}`, digitsRequest(t)},
		{"centroid (C)", centroidWasm, string(mustRead(t, "examples/factories/centroid/iris-config.json")), `[5.1,3.5,1.4,0.2]`},
		{"demo mlp.wasm (Go)", demoWasm, `{"weights":"digits"}`, digitsRequest(t)},
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	root, err := wasmbuild.RepoRoot()
	require.NoError(t, err)
	b, err := os.ReadFile(root + "/" + path)
	require.NoError(t, err)
	return b
}

func goGuestWasm(t testing.TB) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	root, err := wasmbuild.RepoRoot()
	require.NoError(t, err)
	path, err := wasmbuild.Shared.Get("interrupt-goguest", func(out string) error {
		return wasmbuild.Go(context.Background(), root, "./host/testdata/goguest", out)
	})
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func cFactory(t testing.TB, name, source string, flags ...string) []byte {
	t.Helper()
	wasm, err := wasmbuild.Shared.CFactory(context.Background(), name, source, flags...)
	if errors.Is(err, wasmbuild.ErrToolMissing) {
		t.Fatalf("needs clang for wasm32-wasi (run make deps): %v", err)
	}
	require.NoError(t, err)
	return wasm
}

func mlpcWasm(t testing.TB) []byte {
	return cFactory(t, "interrupt-mlpc-simd128", "examples/factories/mlpc/mlpc.c", "-msimd128")
}

func centroidWasm(t testing.TB) []byte {
	return cFactory(t, "interrupt-centroid", "examples/factories/centroid/centroid.c", "-msimd128")
}

func demoWasm(t testing.TB) []byte { return mustRead(t, "cmd/wasmreg/internal/demo/mlp.wasm") }

// guestRun is an instance of a factory, original or rewritten.
type guestRun struct {
	mod  api.Module
	plan *Plan // nil for the original
}

func startGuest(t testing.TB, r wazero.Runtime, wasm []byte, plan *Plan, stack int32) (*guestRun, error) {
	ctx := context.WithValue(context.Background(), guestKey{}, &guestCall{})
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = mod.Close(context.Background()) })
	g := &guestRun{mod: mod, plan: plan}
	if plan != nil && stack != 0 {
		mod.ExportedGlobal(StackGlobal).(api.MutableGlobal).Set(uint64(uint32(stack)))
	}
	if plan != nil && plan.Start != "" {
		if _, _, err := g.call(plan.Start, nil); err != nil {
			return nil, err
		}
	}
	if mod.ExportedFunction("_initialize") != nil {
		if _, _, err := g.call("_initialize", nil); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// call calls export with input, returning its results and what it output,
// and the length its api.Function's call stack grew to.
func (g *guestRun) call(export string, input []byte, params ...uint64) (string, int, error) {
	c := &guestCall{input: input}
	ctx := context.WithValue(context.Background(), guestKey{}, c)
	f := g.mod.ExportedFunction(export)
	if f == nil {
		return "", 0, fmt.Errorf("no export %s", export)
	}
	res, err := f.Call(ctx, params...)
	return fmt.Sprintf("%s%v out=%q err=%q", export, res, c.output, c.errMsg), stackLen(f), err
}

// script runs a factory's ordinary work: info, build, predict twice.
func (g *guestRun) script(m realModule) ([]string, int, error) {
	var out []string
	maxStack := 0
	for _, step := range []struct {
		export string
		input  string
	}{{"wasmreg_abi_version", ""}, {"wasmreg_info", ""}, {"wasmreg_build", m.config}, {"wasmreg_predict", m.request}, {"wasmreg_predict", m.request}} {
		var params []uint64
		if step.input != "" {
			params = []uint64{uint64(len(step.input))}
		}
		s, n, err := g.call(step.export, []byte(step.input), params...)
		maxStack = max(maxStack, n)
		if err != nil {
			return out, maxStack, err
		}
		out = append(out, s)
	}
	return out, maxStack, nil
}

// stackLen reads the length of the call stack of f, a wazero callEngine:
// test-only, for wazero v1.12.
func stackLen(f api.Function) int {
	v := reflect.ValueOf(f)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return -1
	}
	s := v.FieldByName("stack")
	if !s.IsValid() {
		return -1
	}
	return s.Len()
}

// TestRealModules rewrites real factories and runs their ordinary work,
// rewritten and not: the same results, far from the stack limit.
func TestRealModules(t *testing.T) {
	for i, rm := range realModules(t) {
		t.Run(rm.name, func(t *testing.T) {
			if testing.Short() && i != 1 {
				t.Skip("compiles a large module; -short runs the C one only")
			}
			wasm := rm.wasm(t)
			r := newGuestRuntime(t)
			orig, err := startGuest(t, r, wasm, nil, 0)
			require.NoError(t, err)
			want, origStack, err := orig.script(rm)
			require.NoError(t, err)

			out, plan := instrument(t, wasm, Options{})
			g, err := startGuest(t, r, out, plan, 0)
			require.NoError(t, err)
			got, stack, err := g.script(rm)
			require.NoError(t, err)
			require.Equal(t, want, got)

			if testing.Short() {
				return
			}
			// The least stack budget the same work needs.
			lo, hi := int32(0), int32(DefaultStackLimit)
			for hi-lo > 256 {
				mid := lo + (hi-lo)/2
				g, err := startGuest(t, r, out, plan, mid)
				if err == nil {
					_, _, err = g.script(rm)
				}
				if err == nil {
					hi = mid
				} else {
					lo = mid
				}
			}
			t.Logf("%s: %d functions, %d loops, %d bulk, %d checkpoints; largest stack charge %d; the work needs a budget of %d bytes (limit %d); real stack grew to %d (unrewritten %d)",
				rm.name, plan.Functions, plan.Loops, plan.Bulk, plan.Checkpoints, plan.MaxFrame, hi, DefaultStackLimit, stack, origStack)
			assert.Less(t, hi, int32(DefaultStackLimit/4), "the ordinary work must run far from the stack limit")
		})
	}
}
