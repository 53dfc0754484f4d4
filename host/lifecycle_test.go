package host_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wasmreg/wasmreg/di"
	"github.com/wasmreg/wasmreg/host"
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
	t.Run("two hosts share a container, each with its own defaults", func(t *testing.T) {
		c := di.New()
		ctx := context.Background()
		var logs [2]logBuffer
		var hosts [2]*host.Host
		for i := range hosts {
			h, err := host.New(ctx, host.WithContainer(c), allCaps, host.WithRandomSeed(uint64(i+1)),
				host.WithArtifacts(host.ArtifactMap{"weights": []byte{byte('a' + i)}}),
				host.WithLogger(slog.New(slog.NewTextHandler(&logs[i], &slog.HandlerOptions{Level: slog.LevelDebug}))))
			require.NoError(t, err, "host %d", i)
			defer h.Close(ctx)
			hosts[i] = h
		}
		assert.Empty(t, c.Types(), "the hosts wrote nothing into the caller's container")
		var outs [2][]byte
		for i, h := range hosts {
			m, err := load(t, h, "guest.wasm").Build(ctx, nil)
			require.NoError(t, err)
			defer m.Close(ctx)
			// guest.wasm: "r" answers 16 random bytes, "a" the artifact
			// "weights", "g" logs.
			r, err := m.Predict(ctx, []byte("r"))
			require.NoError(t, err)
			a, err := m.Predict(ctx, []byte("a"))
			require.NoError(t, err)
			_, err = m.Predict(ctx, []byte("g"))
			require.NoError(t, err)
			outs[i] = append(r, a...)
		}
		assert.NotEqual(t, outs[0], outs[1], "each host's seed and artifacts")
		assert.Contains(t, string(outs[0]), "a")
		assert.Contains(t, string(outs[1]), "b")
		assert.Contains(t, logs[0].String(), "spam line", "each host's logger")
		assert.Contains(t, logs[1].String(), "spam line")
	})
	t.Run("a failed New leaves the container untouched", func(t *testing.T) {
		c := di.New()
		_, err := host.New(context.Background(), host.WithContainer(c), host.WithCompilationCacheDir("/proc/no/such/dir"))
		require.Error(t, err)
		assert.Empty(t, c.Types())
	})
}

func TestInstanceLimit(t *testing.T) {
	h, _ := newHost(t, allCaps, host.WithMaxInstances(2), host.WithCallTimeout(time.Second))
	f := load(t, h, "guest.wasm")
	ctx := context.Background()
	a, err := f.Build(ctx, nil)
	require.NoError(t, err)
	b, err := f.Build(ctx, nil)
	require.NoError(t, err)

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = f.Build(short, nil)
	require.ErrorIs(t, err, host.ErrBusy)
	assert.ErrorContains(t, err, "all 2 instance slots are in use")
	assert.ErrorContains(t, err, "WithMaxInstances")

	// A waiting build gets the slot a Close frees.
	time.AfterFunc(50*time.Millisecond, func() { _ = a.Close(ctx) })
	c, err := f.Build(ctx, nil)
	require.NoError(t, err)

	// A trap frees its slot too.
	_, err = b.Predict(ctx, []byte("t"))
	require.ErrorIs(t, err, host.ErrTrap)
	d, err := f.Build(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, b.Close(ctx), "closing a trapped model does not free its slot twice")
	short2, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	_, err = f.Build(short2, nil)
	require.ErrorIs(t, err, host.ErrBusy, "c and d hold both slots")
	require.NoError(t, c.Close(ctx))
	require.NoError(t, d.Close(ctx))
}

func TestPinnedDigests(t *testing.T) {
	echo := fixture(t, "echo.wasm")
	h, _ := newHost(t, host.WithPinnedDigests(host.Digest(echo)))
	_, err := h.Load(context.Background(), echo)
	require.NoError(t, err)
	guest := fixture(t, "clock.wasm")
	_, err = h.Load(context.Background(), guest)
	require.ErrorIs(t, err, host.ErrDigestMismatch)
	assert.ErrorContains(t, err, host.Digest(guest))
	assert.ErrorContains(t, err, host.Digest(echo))

	_, err = host.New(context.Background(), host.WithPinnedDigests("ABC"))
	assert.ErrorIs(t, err, host.ErrInvalidOption)
}

func TestCompileConcurrency(t *testing.T) {
	h, _ := newHost(t, host.WithCompileConcurrency(1))
	wasm := fixture(t, "echo.wasm")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := h.Load(context.Background(), wasm)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	_, err := host.New(context.Background(), host.WithCompileConcurrency(0))
	assert.ErrorIs(t, err, host.ErrInvalidOption)
	_, err = host.New(context.Background(), host.WithMaxInstances(0))
	assert.ErrorIs(t, err, host.ErrInvalidOption)
}

func TestWithoutInterruption(t *testing.T) {
	// spin runs 2^26 loop iterations, far more than 1 ms, then divides by
	// zero: the trap says whether the call reached its end.
	wasm := fixture(t, "spin.wasm")
	ctx := context.Background()
	// The deadline is the Predict's alone: a 1 ms call timeout for the
	// whole host also bounds Load's calls, which a loaded machine can miss.
	run := func(t *testing.T, deadline time.Duration, opts ...host.Option) error {
		h, _ := newHost(t, opts...)
		f, err := h.Load(ctx, wasm)
		require.NoError(t, err)
		m, err := f.Build(ctx, nil)
		require.NoError(t, err)
		defer m.Close(ctx)
		pctx := ctx
		if deadline > 0 {
			var cancel context.CancelFunc
			pctx, cancel = context.WithTimeout(ctx, deadline)
			defer cancel()
		}
		_, err = m.Predict(pctx, nil)
		return err
	}
	const end = "integer divide by zero"
	t.Run("interrupted by default", func(t *testing.T) {
		err := run(t, time.Millisecond)
		require.ErrorIs(t, err, host.ErrTimeout)
		assert.False(t, inChain(err, func(e error) bool { return strings.Contains(e.Error(), end) }), "stopped before its end: %v", err)
	})
	t.Run("runs to its end without interruption, then fails", func(t *testing.T) {
		err := run(t, time.Millisecond, host.WithoutInterruption())
		require.ErrorIs(t, err, host.ErrTimeout, "a call whose deadline passed fails")
		// It ran past the loop, where nothing stops it, to the import,
		// which the host refuses once the deadline has passed.
		assert.True(t, inChain(err, func(e error) bool { return strings.Contains(e.Error(), "the call was stopped") }),
			"the import after the deadline was refused: %v", err)
	})
	t.Run("without a deadline", func(t *testing.T) {
		err := run(t, 0, host.WithoutInterruption())
		require.ErrorIs(t, err, host.ErrTrap)
		assert.Contains(t, err.Error(), end)
	})
}

func TestModelInstances(t *testing.T) {
	h, _ := newHost(t, allCaps, host.WithModelInstances(3), host.WithMaxInstances(3))
	f := load(t, h, "guest.wasm")
	ctx := context.Background()
	m, err := f.BuildModel(ctx, []byte(`{"pool":true}`))
	require.NoError(t, err)
	assert.Equal(t, 1, m.Instances(), "a build makes one instance")

	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			_, err := m.Predict(ctx, []byte("g")) // 5000 log calls: long enough to overlap
			assert.NoError(t, err)
			out, err := m.Predict(ctx, []byte("?"))
			assert.NoError(t, err)
			assert.Equal(t, `{"pool":true}?`, string(out), "every instance is built with the model's config")
		})
	}
	wg.Wait()
	n := m.Instances()
	assert.GreaterOrEqual(t, n, 2, "concurrent predictions grew the pool")
	assert.LessOrEqual(t, n, 3, "up to WithModelInstances")

	// A trap closes the whole model and frees every slot.
	_, err = m.Predict(ctx, []byte("t"))
	require.ErrorIs(t, err, host.ErrTrap)
	_, err = m.Predict(ctx, []byte("?"))
	require.ErrorIs(t, err, host.ErrModelClosed)
	assert.Zero(t, m.Instances())
	var models []*host.Model
	for range 3 {
		m, err := f.BuildModel(ctx, nil)
		require.NoError(t, err, "the closed model's slots were freed")
		models = append(models, m)
	}
	for _, m := range models {
		require.NoError(t, m.Close(ctx))
	}
	_, err = host.New(ctx, host.WithModelInstances(0))
	assert.ErrorIs(t, err, host.ErrInvalidOption)
}

// TestStaleCancelDoesNotKillNextCall cancels calls just as they end: a call
// that succeeded must leave the model able to serve the next one, even if
// its cancellation fired on the way out.
func TestStaleCancelDoesNotKillNextCall(t *testing.T) {
	h, _ := newHost(t, allCaps, host.WithCallTimeout(time.Minute))
	f := load(t, h, "echo.wasm")
	m, err := f.Build(context.Background(), nil)
	require.NoError(t, err)
	for i := range 3000 {
		ctx, cancel := context.WithCancel(context.Background())
		go cancel()
		if _, err := m.Predict(ctx, nil); err != nil {
			// The cancellation stopped that call, which closes the model.
			require.ErrorIs(t, err, context.Canceled)
			m.Close(context.Background())
			m, err = f.Build(context.Background(), nil)
			require.NoError(t, err)
			continue
		}
		_, err := m.Predict(context.Background(), nil)
		require.NoError(t, err, "iteration %d: a successful call left a guard that stopped the next", i)
	}
	m.Close(context.Background())
}

// TestCloseUnderRunningCalls closes models and hosts while their guests
// write all over their memory and grow it: every call stops with the close's
// error, nothing crashes (the memory is unmapped only once the call has
// left it), and every memory is released in the end.
func TestCloseUnderRunningCalls(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	wasm := fixture(t, "memloop.wasm")
	baseline := host.LiveMemories()
	const rounds = 24
	var wg sync.WaitGroup
	for round := range rounds {
		wg.Go(func() {
			h, err := host.New(context.Background(), host.WithLogger(slog.New(slog.DiscardHandler)),
				host.WithCallTimeout(0), host.WithModelInstances(2))
			require.NoError(t, err)
			defer h.Close(context.Background())
			f, err := h.Load(context.Background(), wasm)
			require.NoError(t, err)
			models := make([]*host.Model, 3)
			for i := range models {
				models[i], err = f.BuildModel(context.Background(), nil)
				require.NoError(t, err)
			}
			var calls sync.WaitGroup
			for _, m := range models {
				for range 2 { // both of the model's instances
					calls.Go(func() {
						_, err := m.Predict(context.Background(), nil)
						if round%2 == 0 {
							assert.ErrorIs(t, err, host.ErrModelClosed)
						} else {
							assert.ErrorIs(t, err, host.ErrClosed)
						}
					})
				}
			}
			time.Sleep(time.Duration(1+round%5) * time.Millisecond)
			if round%2 == 0 {
				for _, m := range models {
					require.NoError(t, m.Close(context.Background()))
				}
			} else {
				require.NoError(t, h.Close(context.Background()))
			}
			calls.Wait()
		})
	}
	wg.Wait()
	assert.Equal(t, baseline, host.LiveMemories(), "every memory is released")
}

// TestCallTimeoutAfterEarlierCalls runs a looping Predict after earlier
// calls on the same instance: a call is stopped at its own time limit,
// never at one left over from an earlier call (not before, not long after),
// however the earlier calls were spread around the limit.
func TestCallTimeoutAfterEarlierCalls(t *testing.T) {
	const timeout = 150 * time.Millisecond
	quick := func(t *testing.T, m *host.Model, d time.Duration) {
		for start := time.Now(); time.Since(start) < d; {
			callStart := time.Now()
			_, err := m.Predict(context.Background(), []byte("?"))
			if err != nil {
				// Only a call that lasted its limit may be stopped: the
				// machine stalled, and the model is closed.
				elapsed := time.Since(callStart)
				require.ErrorIs(t, err, host.ErrTimeout)
				require.GreaterOrEqual(t, elapsed, timeout, "a quick call was stopped before its limit")
				t.Skipf("a quick call took %s, past its limit: the machine stalled", elapsed)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		before func(t *testing.T, m *host.Model)
	}{
		{"first call", func(*testing.T, *host.Model) {}},
		{"one call just before", func(t *testing.T, m *host.Model) { quick(t, m, 0) }},
		{"calls for most of a limit", func(t *testing.T, m *host.Model) { quick(t, m, timeout*3/4) }},
		{"calls across several limits", func(t *testing.T, m *host.Model) { quick(t, m, 3*timeout) }},
		{"a pause longer than the limit", func(t *testing.T, m *host.Model) {
			quick(t, m, timeout/2)
			time.Sleep(2 * timeout)
		}},
		{"calls on a cancelable context", func(t *testing.T, m *host.Model) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for range 100 {
				_, err := m.Predict(ctx, []byte("?"))
				require.NoError(t, err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newHost(t, allCaps, host.WithCallTimeout(timeout))
			m, err := load(t, h, "guest.wasm").BuildModel(context.Background(), nil)
			require.NoError(t, err)
			tc.before(t, m)
			start := time.Now()
			_, err = m.Predict(context.Background(), []byte("l")) // an infinite loop
			elapsed := time.Since(start)
			require.ErrorIs(t, err, host.ErrTimeout)
			assert.GreaterOrEqual(t, elapsed, timeout, "not stopped before its own limit")
			assert.Less(t, elapsed, 10*timeout, "stopped at its limit")
		})
	}
}

// TestLoadStopsWaitingForCompile: wazero's compile cannot be interrupted,
// but neither Load nor Close waits for it past their context.
func TestLoadStopsWaitingForCompile(t *testing.T) {
	wasm := goGuest(t) // about a second of compile, far more under -race
	logs := &logBuffer{}
	h, err := host.New(context.Background(), host.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	require.NoError(t, err)

	// The deadline passes during the strict read and the rewrites, or
	// during the compile: either way Load does not wait for the compile.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = h.Load(ctx, wasm)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, int64(0), host.CompilesInFlight(h), "Load did not start a compile past its deadline")

	// A compile in flight, then a Close whose context ends first.
	ctx, cancel = context.WithCancel(context.Background())
	loaded := make(chan error, 1)
	go func() {
		_, err := h.Load(ctx, wasm)
		loaded <- err
	}()
	require.Eventually(t, func() bool { return host.CompilesInFlight(h) > 0 }, time.Minute, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-loaded, context.Canceled)
	assert.Equal(t, int64(1), host.CompilesInFlight(h), "Load returned while the compile runs on")

	closeCtx, cancelClose := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancelClose()
	err = h.Close(closeCtx)
	if host.CompilesInFlight(h) > 0 {
		require.ErrorIs(t, err, context.DeadlineExceeded, "Close returned while the compile runs on, and says so")
		assert.Contains(t, err.Error(), "compiles still running")
	}
	// The abandoned compile ends on its own, then the runtime is closed:
	// goleak (TestMain) checks that nothing is left behind.
	require.Eventually(t, func() bool { return host.CompilesInFlight(h) == 0 }, 10*time.Minute, 10*time.Millisecond)
}

func TestCompileTimeout(t *testing.T) {
	h, _ := newHost(t, host.WithCompileTimeout(time.Millisecond))
	_, err := h.Load(context.Background(), goGuest(t))
	require.ErrorIs(t, err, host.ErrModuleLimit)
	assert.Contains(t, err.Error(), "host.WithCompileTimeout")

	_, err = host.New(context.Background(), host.WithCompileTimeout(-time.Second))
	assert.ErrorIs(t, err, host.ErrInvalidOption)
}
