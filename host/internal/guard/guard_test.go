package guard

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmreg/wasmreg/host/internal/interrupt"
)

// TestGuard drives a guard's calls directly: it stops a call at its own
// limit or when its parent is canceled, says so in disarm, and never stops
// a call for an earlier one's reasons.
func TestGuard(t *testing.T) {
	const limit = 50 * time.Millisecond
	stopped := func(g *Guard, within time.Duration) bool {
		select {
		case <-g.done:
			return true
		case <-time.After(within):
			return false
		}
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, g *Guard)
	}{
		{"a call within its limit is not stopped", func(t *testing.T, g *Guard) {
			for range 1000 {
				start := time.Now()
				g.Arm(context.Background(), limit)
				if g.Disarm() {
					// Only a call that lasted its limit may be stopped.
					require.GreaterOrEqual(t, time.Since(start), limit, "stopped before its limit")
					continue // the machine stalled past the limit: that stop was right
				}
			}
			assert.False(t, stopped(g, 2*limit), "the timer found no call past its limit")
		}},
		{"a call is stopped at its limit", func(t *testing.T, g *Guard) {
			start := time.Now()
			g.Arm(context.Background(), limit)
			require.True(t, stopped(g, 20*limit))
			assert.GreaterOrEqual(t, time.Since(start), limit)
			assert.ErrorIs(t, g.Err(), context.DeadlineExceeded)
			assert.True(t, g.Disarm(), "spent")
			assert.True(t, g.Disarm(), "a fired guard stays spent")
		}},
		{"a call after a pause is stopped at its own limit", func(t *testing.T, g *Guard) {
			g.Arm(context.Background(), limit)
			require.False(t, g.Disarm())
			time.Sleep(limit / 2) // the timer is due before the next call's limit
			start := time.Now()
			g.Arm(context.Background(), limit)
			require.True(t, stopped(g, 20*limit))
			assert.GreaterOrEqual(t, time.Since(start), limit)
			assert.True(t, g.Disarm())
		}},
		{"a call is stopped when its parent is canceled", func(t *testing.T, g *Guard) {
			ctx, cancel := context.WithCancel(context.Background())
			g.Arm(ctx, 0)
			cancel()
			require.True(t, stopped(g, time.Second))
			assert.ErrorIs(t, g.Err(), context.Canceled)
			assert.True(t, g.Disarm())
		}},
		{"a parent canceled after the call does not stop the next", func(t *testing.T, g *Guard) {
			ctx, cancel := context.WithCancel(context.Background())
			g.Arm(ctx, limit)
			require.False(t, g.Disarm())
			cancel()
			g.Arm(context.Background(), time.Minute)
			assert.False(t, stopped(g, limit))
			assert.False(t, g.Disarm())
		}},
		{"no timeout, no timer", func(t *testing.T, g *Guard) {
			g.Arm(context.Background(), 0)
			assert.Equal(t, int64(guardNoDeadline), g.deadline.Load())
			assert.False(t, g.pending.Load())
			assert.False(t, g.Disarm())
		}},
		{"a timeout of centuries does not overflow", func(t *testing.T, g *Guard) {
			g.Arm(context.Background(), math.MaxInt64)
			assert.Equal(t, int64(guardNoDeadline-1), g.deadline.Load())
			assert.False(t, stopped(g, limit))
			assert.False(t, g.Disarm())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := New()
			t.Cleanup(g.Release)
			tc.run(t, g)
		})
	}
}

// stopFlag returns a real guest's exported mutable global, as the
// interrupt rewrite's stop flag is one; wazero's globals cannot be faked.
func stopFlag(t *testing.T) api.MutableGlobal {
	// (module (global (export "flag") (mut i32) (i32.const 0)))
	wasm := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x06, 0x06, 0x01, 0x7f, 0x01, 0x41, 0x00, 0x0b,
		0x07, 0x08, 0x01, 0x04, 'f', 'l', 'a', 'g', 0x03, 0x00}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { _ = rt.Close(ctx) })
	mod, err := rt.Instantiate(ctx, wasm)
	require.NoError(t, err)
	f, ok := mod.ExportedGlobal("flag").(api.MutableGlobal)
	require.True(t, ok)
	return f
}

// TestGuardStop checks Stop, Fired, Reason and the stop flag: a stopped
// guard stops the running call and every later one, raises the flag, and
// says why.
func TestGuardStop(t *testing.T) {
	for _, tc := range []struct {
		name    string
		running bool // Stop while a call runs, else between calls
	}{
		{"stop under a call", true},
		{"stop between calls", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := New()
			t.Cleanup(g.Release)
			f := stopFlag(t)
			g.SetFlag(f)
			require.False(t, g.Fired())
			require.NoError(t, g.Reason())
			if tc.running {
				g.Arm(context.Background(), time.Minute)
			}
			g.Stop()
			if !tc.running {
				g.Arm(context.Background(), time.Minute)
			}
			select {
			case <-g.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("Stop did not close Done")
			}
			assert.True(t, g.Fired())
			assert.ErrorIs(t, g.Reason(), context.Canceled)
			assert.ErrorIs(t, g.Err(), context.Canceled)
			assert.Equal(t, uint64(interrupt.StopValue), f.Get(), "the stop flag was not raised")
			assert.True(t, g.Disarm(), "a stopped guard is spent")
		})
	}
}
