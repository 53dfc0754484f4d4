package interrupt

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// outcome is what a call did: its results, or the first line of its error.
func outcome(res []uint64, err error) string {
	if err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return "error: " + msg
	}
	return fmt.Sprint(res)
}

// TestInstrumentKeepsBehaviour calls every export of testdata/behaviour.wasm
// with the same arguments on the module and on its rewrite, in the same
// order: the same results, the same traps.
func TestInstrumentKeepsBehaviour(t *testing.T) {
	wasm := fixture(t, "behaviour.wasm")
	out, plan := instrument(t, wasm, Options{})
	require.Equal(t, StartExport, plan.Start)
	m := decode(t, wasm)
	loops := 0
	for _, c := range m.Code {
		loops += int(c.Loops)
	}
	assert.Equal(t, loops, plan.Loops)
	assert.Equal(t, len(m.Code), plan.Functions)
	assert.Equal(t, 6, plan.Bulk)

	ctx := context.Background()
	orig := instantiate(t, newRuntime(t), wasm)
	rw := instantiate(t, newRuntime(t), out)
	// The rewrite runs no start function by itself: the host calls it.
	assert.Equal(t, uint64(0), rw.ExportedGlobal(StopGlobal).Get())
	_, err := rw.ExportedFunction(StartExport).Call(ctx)
	require.NoError(t, err)

	var names []string
	for name := range orig.ExportedFunctionDefinitions() {
		names = append(names, name)
	}
	require.Len(t, names, 14)
	for _, name := range []string{"ret_nested", "br_fn", "br_table", "multi", "multi_direct", "dead_return", "loop_params",
		"bulk_memory", "bulk_table", "indirect", "grow", "globals", "trap"} {
		for arg := uint64(0); arg < 8; arg++ {
			want := outcome(orig.ExportedFunction(name).Call(ctx, arg))
			got := outcome(rw.ExportedFunction(name).Call(ctx, arg))
			assert.Equal(t, want, got, "%s(%d)", name, arg)
		}
	}
	for _, d := range []uint64{1, 100, 3000} {
		want := outcome(orig.ExportedFunction("deep").Call(ctx, d))
		assert.Equal(t, want, outcome(rw.ExportedFunction("deep").Call(ctx, d)), "deep(%d)", d)
	}
	// The state the calls left: memory and the module's own global.
	wantMem, _ := orig.Memory().Read(0, orig.Memory().Size())
	gotMem, _ := rw.Memory().Read(0, rw.Memory().Size())
	assert.Equal(t, wantMem, gotMem)

	// Calls that return give their stack back, by every exit; a trap
	// does not (a trapped instance is never called again).
	fresh := instantiate(t, newRuntime(t), out)
	for _, name := range []string{"ret_nested", "br_fn", "br_table", "multi", "multi_direct", "dead_return", "loop_params", "deep"} {
		for arg := uint64(0); arg < 4; arg++ {
			_, err := fresh.ExportedFunction(name).Call(ctx, arg)
			require.NoError(t, err)
			assert.Equal(t, uint64(DefaultStackLimit), fresh.ExportedGlobal(StackGlobal).Get(), "%s(%d)", name, arg)
		}
	}
}

// TestInstrumentEmptyModule: a module without sections gets every section
// the rewrite needs.
func TestInstrumentEmptyModule(t *testing.T) {
	out, plan := instrument(t, []byte("\x00asm\x01\x00\x00\x00"), Options{})
	assert.Zero(t, plan.Functions)
	mod := instantiate(t, newRuntime(t), out)
	assert.NotNil(t, mod.ExportedGlobal(StopGlobal))
	assert.NotNil(t, mod.ExportedGlobal(StackGlobal))
}

func TestInstrumentRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		wat  string
		opts Options
		kind error
		msg  string
	}{
		{"reserved export name", `(module (func (export "__wasmreg_x")))`, Options{}, ErrNotInstrumentable, `export[0] "__wasmreg_x"`},
		{"the stop flag's name", `(module (global (export "__wasmreg_stop") i32 (i32.const 0)))`, Options{}, ErrNotInstrumentable, `"__wasmreg_stop"`},
		{"a host prefix does not cover the rewrite's names", `(module (global (export "__wasmreg_stack") i32 (i32.const 0)))`,
			Options{HostPrefixes: []string{"__wasmreg_s"}}, ErrNotInstrumentable, `"__wasmreg_stack"`},
		{"imported table", `(module (import "m" "t" (table 1 funcref)))`, Options{}, ErrNotInstrumentable, `import[0] "m" "t"`},
		{"table minimum over the limit", `(module (table 101 funcref))`, Options{TableLimit: 100}, ErrTableLimit, "table[0]: declares 101 entries"},
		{"period over its bound", `(module)`, Options{Period: MaxPeriod + 1}, ErrInvalidOptions, "Period"},
		{"stack limit over its bound", `(module)`, Options{StackLimit: MaxStackLimit + 1}, ErrInvalidOptions, "StackLimit"},
		{"table limit over its bound", `(module)`, Options{TableLimit: MaxTableLimit + 1}, ErrInvalidOptions, "TableLimit"},
		{"host prefix outside the reserved names", `(module)`, Options{HostPrefixes: []string{"x"}}, ErrInvalidOptions, "HostPrefixes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Instrument(decode(t, watToWasm(t, tc.wat)), tc.opts)
			require.ErrorIs(t, err, tc.kind)
			assert.Contains(t, err.Error(), tc.msg)
			if tc.kind != ErrInvalidOptions {
				var e *Error
				require.ErrorAs(t, err, &e)
			}
		})
	}
}

// TestInstrumentHostPrefixes: the snapshot rewrite's exports, which run
// before Instrument, pass when the host names their prefix.
func TestInstrumentHostPrefixes(t *testing.T) {
	wasm := watToWasm(t, `(module (global $g (export "__wasmreg_snapshot_global_0") (mut i32) (i32.const 3)))`)
	_, _, err := Instrument(decode(t, wasm), Options{})
	require.ErrorIs(t, err, ErrNotInstrumentable)
	out, _, err := Instrument(decode(t, wasm), Options{HostPrefixes: []string{"__wasmreg_snapshot_global_"}})
	require.NoError(t, err)
	mod := instantiate(t, newRuntime(t), out)
	assert.Equal(t, uint64(3), mod.ExportedGlobal("__wasmreg_snapshot_global_0").Get())
}

// TestInstrumentRewriteOfRewrite: a rewrite exports reserved names, so it
// cannot be rewritten again.
func TestInstrumentRewriteOfRewrite(t *testing.T) {
	out, _ := instrument(t, fixture(t, "behaviour.wasm"), Options{})
	_, _, err := Instrument(decode(t, out), Options{})
	require.ErrorIs(t, err, ErrNotInstrumentable)
}

const tableWAT = `(module
  (table $t 2 funcref)
  (table $u 1 50 funcref)
  (func (export "grow_t") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0)))
  (func (export "grow_u") (param i32) (result i32) (table.grow $u (ref.null func) (local.get 0))))`

// TestTableLimit: no table grows past the limit, with or without the
// checks; a declared minimum over it is refused.
func TestTableLimit(t *testing.T) {
	wasm := watToWasm(t, tableWAT)
	out, _ := instrument(t, wasm, Options{TableLimit: 100})
	limited, err := LimitTables(decode(t, wasm), 100)
	require.NoError(t, err)
	for name, wasm := range map[string][]byte{"Instrument": out, "LimitTables": limited} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			mod := instantiate(t, newRuntime(t), wasm)
			grow := func(export string, n uint64) int32 {
				res, err := mod.ExportedFunction(export).Call(ctx, n)
				require.NoError(t, err)
				return int32(res[0])
			}
			assert.Equal(t, int32(-1), grow("grow_t", 99)) // 2+99 > 100
			assert.Equal(t, int32(2), grow("grow_t", 98))  // to 100 exactly
			assert.Equal(t, int32(-1), grow("grow_t", 1))
			assert.Equal(t, int32(-1), grow("grow_u", 50)) // its own maximum of 50 stays
			assert.Equal(t, int32(1), grow("grow_u", 49))
		})
	}
	_, err = LimitTables(decode(t, watToWasm(t, `(module (table 101 funcref))`)), 100)
	require.ErrorIs(t, err, ErrTableLimit)
	_, err = LimitTables(decode(t, watToWasm(t, `(module (import "m" "t" (table 1 funcref)))`)), 100)
	require.ErrorIs(t, err, ErrNotInstrumentable)

	// A module without tables comes back as it is.
	plain := watToWasm(t, `(module (func))`)
	same, err := LimitTables(decode(t, plain), 100)
	require.NoError(t, err)
	assert.Equal(t, plain, same)
}

// withCustom appends a custom section to wasm.
func withCustom(wasm []byte, name, data string) []byte {
	return wasmbin.AppendSection(append([]byte(nil), wasm...), wasmbin.SecCustom, append(wasmbin.AppendName(nil, name), data...))
}

// TestKeepsSections: custom sections are kept, DWARF dropped by
// Instrument (its code offsets would be wrong) and kept by LimitTables.
func TestKeepsSections(t *testing.T) {
	wasm := withCustom(withCustom(watToWasm(t, tableWAT), ".debug_info", "dwarf"), "producers", "data")
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCustomSections(true))
	defer r.Close(ctx)
	names := func(wasm []byte) []string {
		compiled, err := r.CompileModule(ctx, wasm)
		require.NoError(t, err)
		var names []string
		for _, s := range compiled.CustomSections() {
			names = append(names, s.Name()+"="+string(s.Data()))
		}
		return names
	}
	out, _ := instrument(t, wasm, Options{})
	assert.Equal(t, []string{"producers=data"}, names(out))
	limited, err := LimitTables(decode(t, wasm), 100)
	require.NoError(t, err)
	assert.Equal(t, []string{".debug_info=dwarf", "producers=data"}, names(limited))
}

// TestStackOverflow: unbounded recursion traps once its estimated stack
// passes the limit, the host can tell it was the stack, and the Go heap
// barely grows; recursion thousands of frames deep still works.
func TestStackOverflow(t *testing.T) {
	wasm := watToWasm(t, `(module
  (func $down (export "down") (param i32) (result i32)
    (i32.add (call $down (i32.add (local.get 0) (i32.const 1))) (i32.const 1))))`)
	out, plan := instrument(t, wasm, Options{})
	mod := instantiate(t, newRuntime(t), out)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := mod.ExportedFunction("down").Call(context.Background(), 0)
	runtime.ReadMemStats(&after)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "wasm error: unreachable"), "%v", err)
	assert.True(t, plan.StackOverflowed(mod))
	assert.False(t, plan.Stopped(mod))
	grew := after.TotalAlloc - before.TotalAlloc
	t.Logf("unbounded recursion: the Go heap grew %d KiB before the trap (limit %d KiB of estimated stack)", grew>>10, DefaultStackLimit>>10)
	assert.Less(t, grew, uint64(2*DefaultStackLimit), "heap growth")

	// Unchecked, wazero lets the same recursion grow its stack to ~400 MB.
	if !testing.Short() {
		orig := instantiate(t, newRuntime(t), wasm)
		runtime.ReadMemStats(&before)
		_, err := orig.ExportedFunction("down").Call(context.Background(), 0)
		runtime.ReadMemStats(&after)
		require.Error(t, err)
		t.Logf("the same recursion unchecked: %v after %d MiB", strings.SplitN(err.Error(), "\n", 2)[0], (after.TotalAlloc-before.TotalAlloc)>>20)
	}

	// Ordinary recursion a few thousand frames deep: behaviour.wasm's deep.
	deep := instantiate(t, newRuntime(t), func() []byte { b, _ := instrument(t, fixture(t, "behaviour.wasm"), Options{}); return b }())
	res, err := deep.ExportedFunction("deep").Call(context.Background(), 5000)
	require.NoError(t, err)
	assert.Equal(t, []uint64{5000}, res)
}

// TestStoppedBetweenCalls: a flag raised while no call runs stops the
// next call at its first check, and a start function like any other.
func TestStoppedBetweenCalls(t *testing.T) {
	out, plan := instrument(t, fixture(t, "behaviour.wasm"), Options{})
	mod := instantiate(t, newRuntime(t), out)
	mod.ExportedGlobal(StopGlobal).(api.MutableGlobal).Set(StopValue)
	_, err := mod.ExportedFunction(plan.Start).Call(context.Background())
	require.Error(t, err)
	assert.True(t, plan.Stopped(mod))
	_, err = mod.ExportedFunction("br_fn").Call(context.Background(), 1)
	require.Error(t, err)
	assert.False(t, errors.Is(err, context.Canceled))
}
