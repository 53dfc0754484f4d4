package host

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGuard drives a guard's calls directly: it stops a call at its own
// limit or when its parent is canceled, says so in disarm, and never stops
// a call for an earlier one's reasons.
func TestGuard(t *testing.T) {
	const limit = 50 * time.Millisecond
	stopped := func(g *guard, within time.Duration) bool {
		select {
		case <-g.done:
			return true
		case <-time.After(within):
			return false
		}
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, g *guard)
	}{
		{"a call within its limit is not stopped", func(t *testing.T, g *guard) {
			for range 1000 {
				start := time.Now()
				g.arm(context.Background(), limit)
				if g.disarm() {
					// Only a call that lasted its limit may be stopped.
					require.GreaterOrEqual(t, time.Since(start), limit, "stopped before its limit")
					t.Skip("the machine stalled past the limit")
				}
			}
			assert.False(t, stopped(g, 2*limit), "the timer found no call past its limit")
		}},
		{"a call is stopped at its limit", func(t *testing.T, g *guard) {
			start := time.Now()
			g.arm(context.Background(), limit)
			require.True(t, stopped(g, 20*limit))
			assert.GreaterOrEqual(t, time.Since(start), limit)
			assert.ErrorIs(t, (&guardCtx{g: g}).Err(), context.DeadlineExceeded)
			assert.True(t, g.disarm(), "spent")
			assert.True(t, g.disarm(), "a fired guard stays spent")
		}},
		{"a call after a pause is stopped at its own limit", func(t *testing.T, g *guard) {
			g.arm(context.Background(), limit)
			require.False(t, g.disarm())
			time.Sleep(limit / 2) // the timer is due before the next call's limit
			start := time.Now()
			g.arm(context.Background(), limit)
			require.True(t, stopped(g, 20*limit))
			assert.GreaterOrEqual(t, time.Since(start), limit)
			assert.True(t, g.disarm())
		}},
		{"a call is stopped when its parent is canceled", func(t *testing.T, g *guard) {
			ctx, cancel := context.WithCancel(context.Background())
			g.arm(ctx, 0)
			cancel()
			require.True(t, stopped(g, time.Second))
			assert.ErrorIs(t, (&guardCtx{g: g}).Err(), context.Canceled)
			assert.True(t, g.disarm())
		}},
		{"a parent canceled after the call does not stop the next", func(t *testing.T, g *guard) {
			ctx, cancel := context.WithCancel(context.Background())
			g.arm(ctx, limit)
			require.False(t, g.disarm())
			cancel()
			g.arm(context.Background(), time.Minute)
			assert.False(t, stopped(g, limit))
			assert.False(t, g.disarm())
		}},
		{"no timeout, no timer", func(t *testing.T, g *guard) {
			g.arm(context.Background(), 0)
			assert.Equal(t, int64(guardNoDeadline), g.deadline.Load())
			assert.False(t, g.pending.Load())
			assert.False(t, g.disarm())
		}},
		{"a timeout of centuries does not overflow", func(t *testing.T, g *guard) {
			g.arm(context.Background(), math.MaxInt64)
			assert.Equal(t, int64(guardNoDeadline-1), g.deadline.Load())
			assert.False(t, stopped(g, limit))
			assert.False(t, g.disarm())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuard()
			t.Cleanup(func() { g.timer.Stop() })
			tc.run(t, g)
		})
	}
}
