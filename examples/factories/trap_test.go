package factories_test

// A trap says why, in each of the four languages: the reason the guest
// gave (the message its SDK set with error before trapping, or the lines
// its runtime wrote to stderr) is in the host's *host.CallError.

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

// cTrapWasm builds the C SDK's trapping test factory, with flags.
func cTrapWasm(t testing.TB, name string, flags ...string) []byte {
	t.Helper()
	wasm, err := wasmbuild.Shared.CFactory(context.Background(), "csdk-"+name, "examples/factories/testdata/ctrap/ctrap.c", flags...)
	require.NoError(t, err)
	return wasm
}

// requireTrap requires err to be a trap of export with a reason that
// starts with prefix and contains each of parts; it returns the reason.
func requireTrap(t *testing.T, err error, export, prefix string, parts ...string) string {
	t.Helper()
	require.ErrorIs(t, err, host.ErrTrap)
	var ce *host.CallError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, export, ce.Export)
	assert.True(t, strings.HasPrefix(ce.Reason, prefix), "reason %q, want it to start with %q", ce.Reason, prefix)
	for _, p := range parts {
		assert.Contains(t, ce.Reason, p)
	}
	assert.LessOrEqual(t, len(ce.Reason), host.MaxTrapReason)
	assert.ErrorContains(t, err, ce.Reason, "the error's text carries the reason")
	return ce.Reason
}

func TestTrapReasonC(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, _ := cSDKHost(t)
	f, err := h.Load(ctx, cTrapWasm(t, "ctrap"))
	require.NoError(t, err)
	for _, tc := range []struct{ request, reason string }{
		{"trap", "ctrap: asked to trap with 42"},
		{"assert", "Assertion failed: len == 0 && \"ctrap: asked to fail an assertion\""},
	} {
		t.Run(tc.request, func(t *testing.T) {
			m := cSDKBuild(t, f, `{}`)
			_, err := m.Predict(ctx, []byte(tc.request))
			requireTrap(t, err, host.ExportPredict, tc.reason)
		})
	}
	t.Run("silent", func(t *testing.T) {
		m := cSDKBuild(t, f, `{}`)
		_, err := m.Predict(ctx, []byte("silent"))
		require.ErrorIs(t, err, host.ErrTrap)
		var ce *host.CallError
		require.ErrorAs(t, err, &ce)
		assert.Empty(t, ce.Reason, "a guest that says nothing has no reason")
		assert.Equal(t, `host: factory "ctrap@1.0.0" export wasmreg_predict: wasm error: unreachable`, err.Error())
	})
	t.Run("at start", func(t *testing.T) {
		_, err := h.Load(ctx, cTrapWasm(t, "ctrap-start", "-DCTRAP_AT_START"))
		requireTrap(t, err, host.ExportInitialize, "ctrap: cannot start: the weights are missing")
		assert.NotContains(t, err.Error(), "export instantiate")
	})
}

func TestTrapReasonRust(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, _ := cSDKHost(t)
	f, err := h.Load(ctx, rustScaleWasm(t))
	require.NoError(t, err)
	m := cSDKBuild(t, f, `{"factor": 1}`)
	_, err = m.Predict(ctx, []byte("panic"))
	requireTrap(t, err, host.ExportPredict, "panicked at src/lib.rs:", ": asked to panic")
}

func TestTrapReasonAssemblyScript(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, _ := cSDKHost(t)
	f, err := h.Load(ctx, asSDKWasm(t, "scale", "example/scale.ts"))
	require.NoError(t, err)
	m := cSDKBuild(t, f, `{"factor": 1}`)
	_, err = m.Predict(ctx, []byte("abort"))
	requireTrap(t, err, host.ExportPredict, "abort: asked to abort at example/scale.ts:")
}

func TestTrapReasonGo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	caps, bad := goSDKCapsWasm(t), goSDKWasm(t, "gosdk-gopanic", ".", "./examples/factories/testdata/gopanic")
	h, logs := goSDKHost(t, goSDKCompiled(t, caps, bad), host.WithGrants(host.CapClock, host.CapRandom, host.CapArtifact))

	t.Run("Register panics", func(t *testing.T) {
		_, err := h.Load(ctx, bad.wasm)
		requireTrap(t, err, host.ExportInitialize, "panic: wasmreg: Register: ", "bad name!")
		assert.NotContains(t, err.Error(), "export instantiate")
	})
	t.Run("out of memory", func(t *testing.T) {
		f, err := h.Load(ctx, caps.wasm)
		require.NoError(t, err)
		m := goSDKBuild(t, f, `{}`)
		before := strings.Count(logs.String(), "\n")
		_, err = m.Predict(ctx, []byte(`{"op": "oom"}`))
		requireTrap(t, err, host.ExportPredict, "runtime: out of memory: cannot allocate ", "fatal error: out of memory")
		assert.Less(t, strings.Count(logs.String(), "\n")-before, 20, "the runtime's dump is cut short in the log")
		assert.Contains(t, logs.String(), "more lines of the Go runtime's dump not logged")
	})
}
