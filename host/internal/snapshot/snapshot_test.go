package snapshot

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmreg/wasmreg/host/internal/linmem"
	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// FuzzRewriteForSnapshot feeds arbitrary bytes to the snapshot rewrite,
// which reads module files before wazero has validated them: it may refuse
// them, never panic or loop for long.
func FuzzRewriteForSnapshot(f *testing.F) {
	paths, _ := filepath.Glob("../../testdata/*.wasm")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x06\x05\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, wasm []byte) {
		m, err := wasmbin.Decode(wasm, wasmbin.DefaultLimits())
		if err != nil {
			return
		}
		out, plan, err := Rewrite(m)
		if err != nil {
			return
		}
		// What the rewrite makes of a module the strict reader accepts,
		// the strict reader accepts too, with one export per global kept.
		rm, err := wasmbin.Decode(out, wasmbin.DefaultLimits())
		if err != nil {
			t.Fatalf("the rewrite of a module the reader accepts is refused: %v", err)
		}
		if len(rm.Exports) != len(m.Exports)+len(plan.globals) || len(rm.Data) != 0 {
			t.Fatalf("rewrite: %d exports for %d+%d, %d data segments", len(rm.Exports), len(m.Exports), len(plan.globals), len(rm.Data))
		}
	})
}

// rewriteBytes decodes wasm strictly and rewrites it for a snapshot.
func rewriteBytes(t *testing.T, wasm []byte) ([]byte, *Plan, error) {
	t.Helper()
	m, err := wasmbin.Decode(wasm, wasmbin.DefaultLimits())
	require.NoError(t, err)
	return Rewrite(m)
}

func TestRewriteForSnapshot(t *testing.T) {
	wasm, err := os.ReadFile("../../testdata/guest.wasm")
	require.NoError(t, err)
	out, plan, err := rewriteBytes(t, wasm)
	require.NoError(t, err)
	// guest.wat has three mutable globals and seven data segments.
	assert.Len(t, plan.globals, 3)
	assert.Len(t, plan.segments, 7)
	_, _, err = rewriteBytes(t, out)
	assert.NoError(t, err, "the rewrite of a rewrite")
}

func TestRewriteRefusesWhatItCannotCopy(t *testing.T) {
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Fatal("wat2wasm (wabt) is not installed: run make deps")
	}
	tests := []struct {
		name, wat, want string
	}{
		{"funcref global", `(module (global (export "g") (mut funcref) (ref.null func)) (memory (export "memory") 1))`, "mutable global of type"},
		{"v128 global", `(module (global (mut v128) (v128.const i64x2 1 2)) (memory (export "memory") 1))`, "mutable global of type"},
		{"start section", `(module (func $s) (start $s) (memory (export "memory") 1))`, "start section"},
		{"passive data", `(module (memory (export "memory") 1) (data "x"))`, "data segment 0"},
		{"no memory", `(module (global (export "g") (mut i32) (i32.const 0)))`, "no memory"},
		{"table.set", `(module (table 1 funcref) (memory (export "memory") 1)
			(func (export "f") (table.set 0 (i32.const 0) (ref.null func))))`, "changes a table"},
		{"table.grow", `(module (table 1 funcref) (memory (export "memory") 1)
			(func (export "f") (drop (table.grow 0 (ref.null func) (i32.const 1)))))`, "changes a table"},
		{"elem.drop", `(module (table 1 funcref) (memory (export "memory") 1) (func $f)
			(elem $e func $f) (func (export "f") (elem.drop $e)))`, "changes a table"},
		{"data.drop", `(module (memory (export "memory") 1) (data $d (i32.const 0) "x")
			(func (export "f") (data.drop $d)))`, "changes a table"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "m.wat")
			require.NoError(t, os.WriteFile(src, []byte(tc.wat), 0o600))
			b, err := exec.Command("wat2wasm", "--enable-all", src, "-o", filepath.Join(dir, "m.wasm")).CombinedOutput()
			require.NoError(t, err, "%s", b)
			wasm, err := os.ReadFile(filepath.Join(dir, "m.wasm"))
			require.NoError(t, err)
			_, _, err = rewriteBytes(t, wasm)
			assert.True(t, errors.Is(err, ErrNotSuited), "got %v", err)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// snapModule is a module of one memory page, one mutable global
// (export-less) and one data segment of "abc" at 16.
func snapModule() []byte {
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	wasm = wasmbin.AppendSection(wasm, wasmbin.SecMemory, []byte{1, 0, 1})
	wasm = wasmbin.AppendSection(wasm, wasmbin.SecGlobal, []byte{1, 0x7f, 1, 0x41, 5, 0x0b})
	wasm = wasmbin.AppendSection(wasm, wasmbin.SecExport, append(wasmbin.AppendName([]byte{1}, "memory"), 2, 0))
	wasm = wasmbin.AppendSection(wasm, wasmbin.SecData, []byte{1, 0, 0x41, 16, 0x0b, 3, 'a', 'b', 'c'})
	return wasm
}

// TestTakeRestore takes a snapshot of an instance after its data segments
// were applied and a global changed, and restores it into fresh instances:
// they see the memory and the global; one whose memory cannot grow to the
// image's size fails with a *GrowError naming the pages.
func TestTakeRestore(t *testing.T) {
	ctx := context.Background()
	out, plan, err := rewriteBytes(t, snapModule())
	require.NoError(t, err)
	require.Len(t, plan.globals, 1)

	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithMemoryLimitPages(1))
	t.Cleanup(func() { _ = rt.Close(ctx) })
	compiled, err := rt.CompileModule(ctx, out)
	require.NoError(t, err)
	inst := func(image *linmem.Image) api.Module {
		alloc := &linmem.Allocator{Image: image}
		mod, err := rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, alloc), compiled, wazero.NewModuleConfig().WithName(""))
		require.NoError(t, err)
		t.Cleanup(func() { _ = mod.Close(ctx); alloc.Mem.Release() })
		return mod
	}

	first := inst(nil)
	got, _ := first.Memory().Read(16, 3)
	require.Equal(t, []byte{0, 0, 0}, got, "the rewrite emptied the data section")
	require.NoError(t, plan.Apply(first))
	first.ExportedGlobal(plan.globals[0]).(api.MutableGlobal).Set(42)
	snap, err := plan.Take(first)
	require.NoError(t, err)

	for range 2 {
		mod := inst(snap.Image)
		require.NoError(t, snap.Restore(plan, mod))
		got, _ := mod.Memory().Read(16, 3)
		assert.Equal(t, []byte("abc"), got)
		assert.Equal(t, uint64(42), mod.ExportedGlobal(plan.globals[0]).Get())
	}

	big := &Snapshot{Image: snap.Image, size: 2 * pageSize, globals: snap.globals}
	var ge *GrowError
	require.ErrorAs(t, big.Restore(plan, inst(snap.Image)), &ge)
	assert.Equal(t, uint32(2), ge.Pages)
	assert.Equal(t, "cannot grow memory to 2 pages", ge.Error())
}
