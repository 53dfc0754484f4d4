package host_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
)

// TestUngrantedImports loads modules that need capabilities on a host that
// grants none but accepts their imports: they are described in full, and
// every use of a capability traps with ErrNotGranted, whether in a start
// function or in a request.
func TestUngrantedImports(t *testing.T) {
	ctx := context.Background()
	strict, _ := newHost(t)
	_, err := strict.Load(ctx, fixture(t, "guest.wasm"))
	require.ErrorIs(t, err, host.ErrNotGranted, "without the option, the module is refused")

	h, logs := newHost(t, host.WithUngrantedImports())
	assert.Equal(t, []string{host.CapLog}, h.Grants(), "the option grants nothing")
	f := load(t, h, "guest.wasm")
	info := f.Info()
	assert.Equal(t, "testguest", info.Name)
	assert.Equal(t, []string{host.CapArtifact, host.CapClock, host.CapLog, host.CapRandom}, info.Capabilities,
		"what the module needs is still known")

	for _, req := range []string{"r", "k"} { // random_fill, clock_now
		m, err := f.BuildModel(ctx, nil)
		require.NoError(t, err, "nothing is used in the build")
		_, err = m.Predict(ctx, []byte(req))
		require.ErrorIs(t, err, host.ErrNotGranted, "request %q", req)
		var ce *host.CallError
		assert.ErrorAs(t, err, &ce, "a trap of the call")
		require.NoError(t, m.Close(ctx))
	}

	// A start function that reads the clock cannot load: it traps before
	// it can log what it saw.
	_, err = h.Load(ctx, fixture(t, "clock_start.wasm"))
	require.ErrorIs(t, err, host.ErrNotGranted)
	assert.NotContains(t, logs.String(), "observed the clock")
	clocked, clockLogs := newHost(t, host.WithGrants(host.CapClock))
	load(t, clocked, "clock_start.wasm")
	assert.Contains(t, clockLogs.String(), "observed the clock", "with the grant it does")
}
