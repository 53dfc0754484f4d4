package host

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGrowClosesOutsideTheModelLock: an instance a model built for a
// Predict after the model was closed is closed again, and never under the
// model's lock (closing takes the host's lock: the model's is a leaf).
// Recycling is off: a recycled instance is reset, not closed.
func TestGrowClosesOutsideTheModelLock(t *testing.T) {
	ctx := context.Background()
	h, err := New(ctx, WithModelInstances(2), WithRecycling(0), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	defer h.Close(ctx)
	wasm, err := os.ReadFile("testdata/echo.wasm")
	require.NoError(t, err)
	f, err := h.Load(ctx, wasm)
	require.NoError(t, err)
	m, err := f.BuildModel(ctx, nil)
	require.NoError(t, err)

	var m2 *Model
	closedUnlocked, closedLocked := 0, 0
	testHookFinish = func(*instance) {
		if m2 == nil {
			return
		}
		if m2.mu.TryLock() {
			m2.mu.Unlock()
			closedUnlocked++
		} else {
			closedLocked++
		}
	}
	defer func() { testHookFinish = nil }()
	m2 = m
	require.NoError(t, m.Close(ctx)) // closes the first instance
	m.mu.Lock()
	m.growing++ // as acquire counts a growth
	m.mu.Unlock()
	_, err = m.grow(ctx)
	require.ErrorIs(t, err, ErrModelClosed)
	assert.Equal(t, 0, closedLocked, "an instance closed under the model's lock")
	assert.Equal(t, 2, closedUnlocked, "the first instance and the one grown after Close")
}
