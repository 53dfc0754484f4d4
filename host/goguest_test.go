package host_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
)

// TestGoGuest runs a factory built by Go's own GOOS=wasip1 port: WASI
// imports, _initialize, //go:wasmexport.
func TestGoGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and compiles a Go guest")
	}
	wasm := goGuest(t)
	h, logs := newHost(t)
	ctx := context.Background()
	f, err := h.Load(ctx, wasm)
	require.NoError(t, err)
	assert.Equal(t, "goguest@0.1.0", f.Name())

	m, err := f.Build(ctx, []byte(`{"scale": 2.5}`))
	require.NoError(t, err)
	defer m.Close(ctx)
	assert.Contains(t, logs.String(), "built with scale 2.5")

	out, err := m.Predict(ctx, []byte(`[1, 2, 4]`))
	require.NoError(t, err)
	assert.JSONEq(t, `[2.5, 5, 10]`, string(out))

	_, err = m.Predict(ctx, []byte(`not json`))
	require.ErrorIs(t, err, host.ErrGuest)
	assert.ErrorContains(t, err, "request: invalid character")

	out, err = m.Predict(ctx, []byte(`print`))
	require.NoError(t, err)
	assert.Equal(t, "printed", string(out))
	assert.Contains(t, logs.String(), "hello from goguest stdout", "WASI stdout goes to the log")

	_, err = m.Predict(ctx, []byte(`partial`))
	require.NoError(t, err)
	assert.Contains(t, logs.String(), "no newline at the end", "a partial line is logged when the call ends")

	_, err = f.Build(ctx, []byte(`{"scale": "x"}`))
	require.ErrorIs(t, err, host.ErrGuest)
	assert.ErrorContains(t, err, "config: json")

	_, err = m.Predict(ctx, []byte(`panic`))
	require.ErrorIs(t, err, host.ErrTrap)
	assert.ErrorContains(t, err, "unreachable")
	assert.Contains(t, logs.String(), "goguest: asked to panic", "a Go guest's panic reaches the log")
	_, err = m.Predict(ctx, []byte(`[1]`))
	assert.ErrorIs(t, err, host.ErrModelClosed)
}
