package host_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wasmreg/wasmreg/host"
)

// mib is a mebibyte. Most tests here make every instance reserve 2 MiB:
// half a MiB of memory and of call stack, and the fixed overhead.
const mib = 1 << 20

// budgetWatch records, through the host's hook, the most bytes ever
// reserved at once. Safe for concurrent use.
type budgetWatch struct {
	peak atomic.Uint64
}

func watchBudget(h *host.Host) *budgetWatch {
	w := &budgetWatch{}
	host.ObserveMemoryBudget(h, func(used uint64) {
		for {
			p := w.peak.Load()
			if used <= p || w.peak.CompareAndSwap(p, used) {
				return
			}
		}
	})
	return w
}

func reserved(h *host.Host) uint64 {
	used, _ := h.MemoryReserved()
	return used
}

func TestMemoryReservation(t *testing.T) {
	tests := []struct {
		name   string
		module string
		limit  uint64
		memory uint64 // the linear memory part of the reservation
	}{
		{"no maximum: the memory limit", "echo.wasm", 1 * mib, 1 * mib},
		{"no maximum, default limit", "echo.wasm", host.DefaultMemoryLimit, host.DefaultMemoryLimit},
		{"a maximum under the limit: only the maximum", "budget/max.wasm", 1 * mib, 4 << 16},
		{"a maximum over the limit: the limit", "budget/max.wasm", 2 << 16, 2 << 16},
		{"a maximum equal to the limit", "budget/max.wasm", 4 << 16, 4 << 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newHost(t, host.WithMemoryLimit(tc.limit))
			watch := watchBudget(h)
			f := load(t, h, tc.module)
			want := tc.memory + host.InstanceOverhead(h)
			assert.Equal(t, want, f.MemoryReservation())
			assert.Equal(t, want, watch.peak.Load(), "Load's metadata instance reserved it")
			assert.Zero(t, reserved(h), "and released it")

			ctx := context.Background()
			m, err := f.Build(ctx, nil)
			require.NoError(t, err)
			n, err := f.Build(ctx, nil)
			require.NoError(t, err)
			assert.Equal(t, 2*want, reserved(h))
			require.NoError(t, m.Close(ctx))
			require.NoError(t, m.Close(ctx))
			assert.Equal(t, want, reserved(h), "a second Close releases nothing more")
			require.NoError(t, n.Close(ctx))
			assert.Zero(t, reserved(h))
		})
	}
}

func TestMemoryBudgetOption(t *testing.T) {
	for _, bytes := range []uint64{0, 1, 64<<10 - 1} {
		_, err := host.New(context.Background(), host.WithMemoryBudget(bytes))
		require.ErrorIs(t, err, host.ErrInvalidOption)
		assert.ErrorContains(t, err, "WithMemoryBudget")
	}
	h, _ := newHost(t, host.WithMemoryBudget(64<<10))
	used, budget := h.MemoryReserved()
	assert.Zero(t, used)
	assert.Equal(t, uint64(64<<10), budget)

	h, _ = newHost(t)
	_, budget = h.MemoryReserved()
	assert.Equal(t, host.DefaultMemoryBudget(), budget)
}

// TestMemoryBudgetTooSmall checks that an instance that could never fit
// is refused at once, rather than waiting for the call timeout.
func TestMemoryBudgetTooSmall(t *testing.T) {
	h, _ := newHost(t, host.WithMemoryLimit(mib/2), host.WithStackLimit(mib/2), host.WithMemoryBudget(2*mib-1))
	_, err := h.Load(context.Background(), fixture(t, "echo.wasm"))
	require.ErrorIs(t, err, host.ErrMemoryLimit)
	assert.NotErrorIs(t, err, host.ErrBusy)
	assert.ErrorContains(t, err, "more than the whole memory budget of 2.0 MiB (2097151 bytes)")
	requireLimit(t, err, host.ErrMemoryLimit, "WithMemoryBudget")
	assert.ErrorContains(t, err, "host.WithMemoryBudget")
	assert.Zero(t, reserved(h))
}

func TestMemoryBudgetWaits(t *testing.T) {
	ctx := context.Background()
	const timeout = 2 * time.Second
	h, _ := newHost(t, host.WithMemoryLimit(mib/2), host.WithStackLimit(mib/2), host.WithMemoryBudget(6*mib), host.WithCallTimeout(timeout))
	watch := watchBudget(h)
	f := load(t, h, "echo.wasm")
	require.Equal(t, uint64(2*mib), f.MemoryReservation(), "three instances fit the budget")
	var models []*host.Model
	for range 3 {
		m, err := f.BuildModel(ctx, nil)
		require.NoError(t, err)
		models = append(models, m)
	}

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := f.Build(short, nil)
	require.ErrorIs(t, err, host.ErrBusy)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "the memory budget of 6 MiB has 6 MiB reserved by live instances, and this instance needs 2 MiB")
	assert.ErrorContains(t, err, "host.WithMemoryBudget")
	le := requireLimit(t, err, host.ErrBusy, "WithMemoryBudget")
	assert.Equal(t, int64(6*mib), le.Limit)
	assert.Equal(t, uint64(6*mib), reserved(h), "the failed build reserved nothing")

	// Without a deadline of its own, a build waits for the call timeout.
	_, err = f.Build(ctx, nil)
	require.ErrorIs(t, err, host.ErrBusy)
	assert.ErrorContains(t, err, "waited "+timeout.String())

	// A waiting build gets the reservation a Close releases.
	time.AfterFunc(50*time.Millisecond, func() { _ = models[0].Close(ctx) })
	m, err := f.BuildModel(ctx, nil)
	require.NoError(t, err)
	out, err := m.Predict(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, "{}", string(out))
	for _, m := range append(models[1:], m) {
		require.NoError(t, m.Close(ctx))
	}
	assert.Zero(t, reserved(h))
	assert.Equal(t, uint64(6*mib), watch.peak.Load())
}

// blockingArtifacts serves every artifact as one byte, after telling
// entered (buffered) and waiting for release: it holds a Predict of
// guest.wasm's "a" on its instance. Safe for concurrent use.
type blockingArtifacts struct {
	entered chan struct{}
	release chan struct{}
}

func (a blockingArtifacts) Artifact(ctx context.Context, name string) ([]byte, error) {
	a.entered <- struct{}{}
	select {
	case <-a.release:
		return []byte("W"), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestMemoryBudgetModelGrowth checks that the instances a model adds for
// concurrent Predicts reserve the budget too, and that a Predict that
// cannot grow the model waits for one of its instances rather than for
// the budget.
func TestMemoryBudgetModelGrowth(t *testing.T) {
	ctx := context.Background()
	// Each Predict asks twice: artifact_size, then artifact_read.
	arts := blockingArtifacts{entered: make(chan struct{}, 8), release: make(chan struct{})}
	h, _ := newHost(t, allCaps, host.WithArtifacts(arts), host.WithMemoryLimit(mib/2), host.WithStackLimit(mib/2),
		host.WithMemoryBudget(4*mib), host.WithModelInstances(4), host.WithCallTimeout(time.Minute))
	watch := watchBudget(h)
	f := load(t, h, "guest.wasm")
	require.Equal(t, uint64(2*mib), f.MemoryReservation(), "two instances fit the budget")
	m, err := f.BuildModel(ctx, nil)
	require.NoError(t, err)
	defer m.Close(ctx)

	const predicts = 3
	var wg sync.WaitGroup
	errs := make(chan error, predicts)
	predict := func(ctx context.Context) {
		wg.Go(func() {
			out, err := m.Predict(ctx, []byte("a"))
			if err == nil && string(out) != "W" {
				err = fmt.Errorf("got %q", out)
			}
			errs <- err
		})
	}
	predict(ctx)
	predict(ctx)
	<-arts.entered
	<-arts.entered // two Predicts hold the model's two instances
	assert.Equal(t, 2, m.Instances())
	assert.Equal(t, uint64(4*mib), reserved(h))

	// The third cannot grow the model: it must wait for one of its
	// instances, well within its deadline, not for the budget.
	third, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	predict(third)
	time.Sleep(100 * time.Millisecond) // let it reach its wait
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	_, err = f.Build(short, nil)
	require.ErrorIs(t, err, host.ErrBusy, "the model's instances hold the budget")

	close(arts.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, 2, m.Instances())
	assert.Equal(t, uint64(4*mib), watch.peak.Load())
	require.NoError(t, m.Close(ctx))
	assert.Zero(t, reserved(h))
}

// switchArtifacts serves the artifacts named in on, to make budget/fail.wasm
// trap where a test wants it. Safe for concurrent use.
type switchArtifacts struct{ on *sync.Map }

func (a switchArtifacts) Artifact(_ context.Context, name string) ([]byte, error) {
	if _, ok := a.on.Load(name); ok {
		return []byte{1}, nil
	}
	return nil, fmt.Errorf("%w: %q", host.ErrNoArtifact, name)
}

// TestMemoryBudgetFailedBuildsRelease checks that every way a build can
// fail gives its reservation back, and only once.
func TestMemoryBudgetFailedBuildsRelease(t *testing.T) {
	ctx := context.Background()
	type env struct {
		h     *host.Host
		guest *host.Factory // guest.wasm
		fail  *host.Factory // budget/fail.wasm
		on    *sync.Map     // the artifacts budget/fail.wasm sees
	}
	tests := []struct {
		name string
		run  func(t *testing.T, e env)
	}{
		{"wasmreg_build returns an error", func(t *testing.T, e env) {
			_, err := e.guest.Build(ctx, []byte(`"Fail"`))
			assert.ErrorIs(t, err, host.ErrGuest)
		}},
		{"wasmreg_build traps", func(t *testing.T, e env) {
			_, err := e.guest.Build(ctx, []byte(`"Trap"`))
			assert.ErrorIs(t, err, host.ErrTrap)
		}},
		{"wasmreg_build times out", func(t *testing.T, e env) {
			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			_, err := e.guest.Build(short, []byte(`"Loop"`))
			assert.ErrorIs(t, err, host.ErrTimeout)
		}},
		{"_initialize traps", func(t *testing.T, e env) {
			e.on.Store("init", true)
			defer e.on.Delete("init")
			_, err := e.fail.Build(ctx, nil)
			assert.ErrorIs(t, err, host.ErrTrap)
		}},
		{"the start function traps", func(t *testing.T, e env) {
			e.on.Store("start", true)
			defer e.on.Delete("start")
			_, err := e.fail.Build(ctx, nil)
			assert.ErrorIs(t, err, host.ErrTrap)
		}},
		{"Load's instance traps", func(t *testing.T, e env) {
			e.on.Store("start", true)
			defer e.on.Delete("start")
			_, err := e.h.Load(ctx, fixture(t, "budget/fail.wasm"))
			assert.ErrorIs(t, err, host.ErrTrap)
		}},
		{"a Predict traps", func(t *testing.T, e env) {
			m, err := e.guest.Build(ctx, nil)
			require.NoError(t, err)
			_, err = m.Predict(ctx, []byte("t"))
			assert.ErrorIs(t, err, host.ErrTrap)
			assert.NoError(t, m.Close(ctx), "closing a trapped model releases nothing twice")
		}},
		{"canceled while waiting", func(t *testing.T, e env) {
			var held []*host.Model
			for reserved(e.h)+e.guest.MemoryReservation() <= 6*mib {
				m, err := e.guest.BuildModel(ctx, nil)
				require.NoError(t, err)
				held = append(held, m)
			}
			full := reserved(e.h)
			waiting, cancel := context.WithCancel(ctx)
			time.AfterFunc(50*time.Millisecond, cancel)
			_, err := e.guest.Build(waiting, nil)
			require.ErrorIs(t, err, host.ErrBusy)
			assert.ErrorIs(t, err, context.Canceled)
			assert.Equal(t, full, reserved(e.h))
			for _, m := range held {
				require.NoError(t, m.Close(ctx))
			}
		}},
		{"a closed factory", func(t *testing.T, e env) {
			f := load(t, e.h, "echo.wasm")
			require.NoError(t, f.Close(ctx))
			_, err := f.Build(ctx, nil)
			assert.ErrorIs(t, err, host.ErrFactoryClosed)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			on := &sync.Map{}
			h, _ := newHost(t, allCaps, host.WithArtifacts(switchArtifacts{on}), host.WithMemoryLimit(mib/2), host.WithStackLimit(mib/2),
				host.WithMemoryBudget(6*mib), host.WithCallTimeout(5*time.Second))
			watch := watchBudget(h)
			e := env{h: h, guest: load(t, h, "guest.wasm"), fail: load(t, h, "budget/fail.wasm"), on: on}
			tc.run(t, e)
			assert.Zero(t, reserved(h))
			assert.LessOrEqual(t, watch.peak.Load(), uint64(6*mib))
			// Nothing is left queued or reserved: the whole budget is there.
			var models []*host.Model
			for range 3 {
				m, err := e.guest.BuildModel(ctx, nil)
				require.NoError(t, err)
				models = append(models, m)
			}
			for _, m := range models {
				require.NoError(t, m.Close(ctx))
			}
			assert.Zero(t, reserved(h))
		})
	}
}

// TestMemoryBudgetClosedHost checks that builds racing Host.Close, and
// builds after it, leave nothing reserved, including those that were
// waiting for the budget.
func TestMemoryBudgetClosedHost(t *testing.T) {
	ctx := context.Background()
	h, err := host.New(ctx, host.WithMemoryLimit(mib/2), host.WithStackLimit(mib/2), host.WithMemoryBudget(4*mib), host.WithCallTimeout(10*time.Second))
	require.NoError(t, err)
	watch := watchBudget(h)
	f, err := h.Load(ctx, fixture(t, "echo.wasm"))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				m, err := f.Build(ctx, nil)
				if err != nil {
					assert.True(t, errors.Is(err, host.ErrClosed) || errors.Is(err, host.ErrModelClosed), "%v", err)
					return
				}
				// Models are left open: the budget stays full and
				// later builds wait until Close closes everything.
				_ = m
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, h.Close(ctx))
	wg.Wait()
	assert.Zero(t, reserved(h))
	assert.Equal(t, uint64(4*mib), watch.peak.Load())
	_, err = f.Build(ctx, nil)
	assert.ErrorIs(t, err, host.ErrClosed)
	assert.Zero(t, reserved(h))
}

// TestMemoryBudgetHammer builds, calls and closes models from 32
// goroutines on a budget of a few instances: every build eventually gets
// in, the reserved sum never passes the budget, and everything is
// released at the end.
func TestMemoryBudgetHammer(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := context.Background()
	const goroutines, cycles = 32, 25
	h, err := host.New(ctx, allCaps, host.WithMemoryLimit(mib/2), host.WithStackLimit(mib/2), host.WithMemoryBudget(9*mib),
		host.WithModelInstances(2), host.WithCallTimeout(time.Minute))
	require.NoError(t, err)
	defer func() { require.NoError(t, h.Close(ctx)) }()
	watch := watchBudget(h)
	factories := []*host.Factory{load(t, h, "echo.wasm"), load(t, h, "guest.wasm"), load(t, h, "budget/max.wasm")}

	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range cycles {
				f := factories[(g+i)%len(factories)]
				config := []byte(fmt.Sprintf(`{"g":%d,"i":%d}`, g, i))
				if f.Info().Name == "testguest" && i%5 == 4 {
					config = []byte(`"Trap"`) // a failed build releases too
				}
				m, err := f.BuildModel(ctx, config)
				if err != nil {
					if !errors.Is(err, host.ErrTrap) {
						errs <- fmt.Errorf("goroutine %d cycle %d: build: %w", g, i, err)
						return
					}
					continue
				}
				// Two Predicts at once may grow the model to two instances.
				var calls sync.WaitGroup
				for range 2 {
					calls.Go(func() {
						if _, err := m.Predict(ctx, []byte("?")); err != nil {
							errs <- fmt.Errorf("goroutine %d cycle %d: predict: %w", g, i, err)
						}
					})
				}
				calls.Wait()
				if err := m.Close(ctx); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.LessOrEqual(t, watch.peak.Load(), uint64(9*mib), "the reserved sum never passed the budget")
	assert.Greater(t, watch.peak.Load(), uint64(6*mib), "the budget was contended")
	assert.Zero(t, reserved(h))
}
