package host_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/host/internal/interrupt"
	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// TestCompileBombsNameTheirLimit: each compilation bomb is refused at Load
// with ErrModuleLimit, naming the limit it trips and the field that raises
// it; raising that limit alone only lets another one refuse it.
func TestCompileBombsNameTheirLimit(t *testing.T) {
	h, _ := newHost(t)
	tests := []struct {
		file, limit string
		raised      host.ModuleLimits // the limit raised: another refuses it
		next        string
	}{
		// No uint32 admits 2^32-1 locals and a param.
		{"many_locals", "LocalsPerFunction", host.ModuleLimits{LocalsPerFunction: 1<<32 - 1}, "LocalsPerFunction"},
		{"many_loops", "LoopsPerFunction", host.ModuleLimits{LoopsPerFunction: 100_000}, "ControlPerFunction"},
		{"nested_loops", "LoopsPerFunction", host.ModuleLimits{LoopsPerFunction: 100_000}, "BlockDepth"},
		{"br_table_huge", "FunctionBodyBytes", host.ModuleLimits{FunctionBodyBytes: 1 << 20}, "BrTableTargets"},
		{"deep_blocks", "FunctionBodyBytes", host.ModuleLimits{FunctionBodyBytes: 1 << 20}, "BlockDepth"},
		{"branch_chain", "ControlPerFunction", host.ModuleLimits{ControlPerFunction: 100_000}, "CompileCost"},
		{"phi_bomb", "LoopsPerFunction", host.ModuleLimits{LoopsPerFunction: 100_000}, "CompileCost"},
		{"stack_bomb", "StackHeight", host.ModuleLimits{StackHeight: 100_000}, "CompileCost"},
		{"global_reload", "Globals", host.ModuleLimits{Globals: 100_000}, "MutableGlobals"},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			wasm := hostileWasm(t, "compile/"+tc.file)
			_, err := h.Load(ctx, wasm)
			require.ErrorIs(t, err, host.ErrModuleLimit)
			assert.Contains(t, err.Error(), "over the limit "+tc.limit+" of")
			assert.Contains(t, err.Error(), "(raise it with host.WithModuleLimits, field "+tc.limit+")")
			le := requireLimit(t, err, host.ErrModuleLimit, "WithModuleLimits")
			assert.Equal(t, tc.limit, le.Field)

			raised, _ := newHost(t, host.WithModuleLimits(tc.raised))
			_, err = raised.Load(ctx, wasm)
			require.ErrorIs(t, err, host.ErrModuleLimit)
			assert.Contains(t, err.Error(), "field "+tc.next+")")
		})
	}
}

// TestCompileCostWithTheChecks: the host bounds the estimate for the
// module it compiles, with its interrupt checks, not only the module as
// written.
func TestCompileCostWithTheChecks(t *testing.T) {
	wasm := fixture(t, "guest.wasm")
	m, err := wasmbin.Decode(wasm, wasmbin.DefaultLimits())
	require.NoError(t, err)
	out, _, err := interrupt.Instrument(m, interrupt.Options{})
	require.NoError(t, err)
	checked, err := wasmbin.Decode(out, wasmbin.Limits{})
	require.NoError(t, err)
	written, compiled := m.CompileCost(), checked.CompileCost()
	require.Less(t, written, compiled)

	ctx := context.Background()
	between, _ := newHost(t, allCaps, host.WithModuleLimits(host.ModuleLimits{CompileCost: (written + compiled) / 2}))
	_, err = between.Load(ctx, wasm)
	require.ErrorIs(t, err, host.ErrModuleLimit)
	assert.Contains(t, err.Error(), "module with the host's interrupt checks: an estimated compile time of")
	assert.Contains(t, err.Error(), "field CompileCost)")

	enough, _ := newHost(t, allCaps, host.WithModuleLimits(host.ModuleLimits{CompileCost: compiled}))
	f, err := enough.Load(ctx, wasm)
	require.NoError(t, err)
	require.NoError(t, f.Close(ctx))

	// A host that runs guests unchecked compiles the module as written.
	unchecked, _ := newHost(t, allCaps, host.WithoutInterruption(), host.WithModuleLimits(host.ModuleLimits{CompileCost: written}))
	f, err = unchecked.Load(ctx, wasm)
	require.NoError(t, err)
	require.NoError(t, f.Close(ctx))
}

// TestModuleLimitsDefaults: DefaultModuleLimits are the strict reader's,
// every field set; WithModuleLimits keeps the default of each zero field
// (Locals included) and applies the others.
func TestModuleLimitsDefaults(t *testing.T) {
	d := host.DefaultModuleLimits()
	v := reflect.ValueOf(d)
	for i := range v.NumField() {
		assert.False(t, v.Field(i).IsZero(), "%s has no default", v.Type().Field(i).Name)
	}
	w := wasmbin.DefaultLimits()
	assert.Equal(t, w.CompileCost, d.CompileCost)
	assert.Equal(t, w.Locals, d.Locals)
	assert.Equal(t, w.LocalsPerFunction, d.LocalsPerFunction)

	// 520 functions of 2,047 locals (and a param): over the default
	// Locals, 2^20.
	wasm := manyLocals(520, 2047)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts []host.Option
	}{
		{"default", nil},
		{"another field set", []host.Option{host.WithModuleLimits(host.ModuleLimits{Types: 2_000})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newHost(t, tc.opts...)
			_, err := h.Load(ctx, wasm)
			require.ErrorIs(t, err, host.ErrModuleLimit)
			assert.Contains(t, err.Error(), "field Locals)")
		})
	}
	t.Run("lowered", func(t *testing.T) {
		h, _ := newHost(t, host.WithModuleLimits(host.ModuleLimits{LocalsPerFunction: 1_000}))
		_, err := h.Load(ctx, manyLocals(1, 1_000)) // and the one param
		require.ErrorIs(t, err, host.ErrModuleLimit)
		assert.Contains(t, err.Error(), "1001 is over the limit LocalsPerFunction of 1000")
	})
}

// manyLocals is a module of n functions of type [i32] -> [] with locals
// declared locals each: structurally a module, not a factory.
func manyLocals(n int, locals uint32) []byte {
	b := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	b = wasmbin.AppendSection(b, wasmbin.SecType, []byte{1, 0x60, 1, byte(wasmbin.I32), 0})
	funcs := wasmbin.AppendU32(nil, uint32(n))
	code := wasmbin.AppendU32(nil, uint32(n))
	body := wasmbin.AppendU32([]byte{1}, locals)
	body = append(body, byte(wasmbin.I32), 0x0b)
	for range n {
		funcs = append(funcs, 0)
		code = append(wasmbin.AppendU32(code, uint32(len(body))), body...)
	}
	b = wasmbin.AppendSection(b, wasmbin.SecFunction, funcs)
	return wasmbin.AppendSection(b, wasmbin.SecCode, code)
}
