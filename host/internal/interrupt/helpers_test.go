package interrupt

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// watToWasm assembles WAT with wabt's wat2wasm, skipping the test when it
// is not installed.
func watToWasm(t testing.TB, wat string) []byte {
	t.Helper()
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Fatal("wat2wasm (wabt) is not installed: run make deps")
	}
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	require.NoError(t, os.WriteFile(src, []byte(wat), 0o600))
	out, err := exec.Command("wat2wasm", src, "-o", dst).CombinedOutput()
	require.NoError(t, err, "%s", out)
	wasm, err := os.ReadFile(dst)
	require.NoError(t, err)
	return wasm
}

// decode decodes wasm with the default limits.
func decode(t testing.TB, wasm []byte) *wasmbin.Module {
	t.Helper()
	m, err := wasmbin.Decode(wasm, wasmbin.DefaultLimits())
	require.NoError(t, err)
	return m
}

// instrument rewrites wasm with opts.
func instrument(t testing.TB, wasm []byte, opts Options) ([]byte, *Plan) {
	t.Helper()
	out, plan, err := Instrument(decode(t, wasm), opts)
	require.NoError(t, err)
	return out, plan
}

// newRuntime returns a runtime as the host configures one for rewritten
// modules: no close-on-context-done. It is closed with the test.
func newRuntime(t testing.TB) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(false))
	t.Cleanup(func() { _ = r.Close(ctx) })
	return r
}

// instantiate instantiates wasm anonymously on r, without running a start
// function other than the module's own.
func instantiate(t testing.TB, r wazero.Runtime, wasm []byte) api.Module {
	t.Helper()
	mod, err := r.InstantiateWithConfig(context.Background(), wasm, wazero.NewModuleConfig().WithName(""))
	require.NoError(t, err)
	return mod
}
