package host_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/host/di"
)

// TestLoadRacesClose closes hosts while loads are compiling: every Load
// either succeeds or fails with ErrClosed, and nothing panics.
func TestLoadRacesClose(t *testing.T) {
	wasm := fixture(t, "guest.wasm")
	for i := range 20 {
		h, err := host.New(context.Background(), allCaps)
		require.NoError(t, err)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				_, err := h.Load(context.Background(), wasm)
				if err != nil {
					assert.ErrorIs(t, err, host.ErrClosed)
				}
			})
		}
		time.Sleep(time.Duration(i%4) * 100 * time.Microsecond)
		require.NoError(t, h.Close(context.Background()))
		wg.Wait()
	}
}

func TestHostCloseDuringPredict(t *testing.T) {
	h, err := host.New(context.Background(), allCaps, host.WithCallTimeout(0))
	require.NoError(t, err)
	f, err := h.Load(context.Background(), fixture(t, "guest.wasm"))
	require.NoError(t, err)
	m, err := f.Build(context.Background(), nil)
	require.NoError(t, err)
	time.AfterFunc(50*time.Millisecond, func() { _ = h.Close(context.Background()) })
	_, err = m.Predict(context.Background(), []byte("l"))
	assert.ErrorIs(t, err, host.ErrClosed)
}

func TestFactoryClose(t *testing.T) {
	h, _ := newHost(t)
	f := load(t, h, "echo.wasm")
	m, err := f.Build(context.Background(), []byte(`{"kept":true}`))
	require.NoError(t, err)
	require.NoError(t, f.Close(context.Background()))
	require.NoError(t, f.Close(context.Background()), "Close is idempotent")
	_, err = f.Build(context.Background(), nil)
	require.ErrorIs(t, err, host.ErrFactoryClosed)
	assert.ErrorContains(t, err, "echo@1.0.0")
	out, err := m.Predict(context.Background(), nil)
	require.NoError(t, err, "models built before keep working")
	assert.Equal(t, `{"kept":true}`, string(out))
}

func TestDeadlineBeforeCall(t *testing.T) {
	h, _ := newHost(t)
	f := load(t, h, "echo.wasm")
	m, err := f.Build(context.Background(), nil)
	require.NoError(t, err)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = f.Build(ctx, nil)
	assert.ErrorIs(t, err, host.ErrTimeout)
	// A Predict whose context is already done is refused without touching
	// the instance, which stays usable.
	_, err = m.Predict(ctx, nil)
	assert.Error(t, err)
	_, err = m.Predict(context.Background(), nil)
	assert.NoError(t, err)
}

func TestContainerConflicts(t *testing.T) {
	c := di.New()
	require.NoError(t, di.ProvideValue(c, slog.Default()))
	require.NoError(t, di.ProvideValue[host.Artifacts](c, host.ArtifactMap{}))
	require.NoError(t, di.ProvideValue[host.Random](c, host.NewChaCha8Random(1)))
	tests := []struct {
		name string
		opt  host.Option
	}{
		{"WithLogger", host.WithLogger(slog.Default())},
		{"WithArtifacts", host.WithArtifacts(host.ArtifactMap{})},
		{"WithRandomSeed", host.WithRandomSeed(3)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := host.New(context.Background(), host.WithContainer(c), tc.opt)
			require.ErrorIs(t, err, host.ErrInvalidOption)
			assert.ErrorContains(t, err, tc.name)
		})
	}
	t.Run("a failed New leaves the container untouched", func(t *testing.T) {
		c := di.New()
		_, err := host.New(context.Background(), host.WithContainer(c), host.WithCompilationCacheDir("/proc/no/such/dir"))
		require.Error(t, err)
		assert.Empty(t, c.Types())
	})
}
