package host_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// recycledHostile returns the hostile cases that reach an instance (their
// failure shows at Build or Predict) dressed up as Go guests, so that a
// host granting neither clock nor random snapshots them and recycles their
// instances, and the cases it loads.
func recycledHostile(t *testing.T, h *host.Host) (cases []hostileCase, wasm map[string][]byte) {
	ctx := context.Background()
	wasm = map[string][]byte{}
	for _, tc := range hostileCases {
		if tc.stage == atLoad {
			continue
		}
		b := host.DressAsGo(hostileWasm(t, tc.file))
		f, err := h.Load(ctx, b)
		if errors.Is(err, host.ErrNotGranted) {
			continue // needs the clock or random: never snapshotted, so never recycled
		}
		require.NoError(t, err, tc.file)
		require.NoError(t, f.Close(ctx))
		cases, wasm[tc.file] = append(cases, tc), b
	}
	require.GreaterOrEqual(t, len(cases), 20, "most hostile cases run recycled")
	return cases, wasm
}

// recycleWatch is a healthy factory that recycles (testdata/recycle/dirty,
// dressed as Go): check builds a model, checks that it sees the state a
// fresh instance sees, dirties every byte of memory and every global, and
// closes it, so that the next check runs on the recycled instance.
type recycleWatch struct {
	f    *host.Factory
	want []byte
}

func newRecycleWatch(t *testing.T, h *host.Host) *recycleWatch {
	ctx := context.Background()
	wasm, err := os.ReadFile(filepath.Join("testdata", "recycle", "dirty.wasm"))
	require.NoError(t, err)
	f, err := h.Load(ctx, host.DressAsGo(wasm))
	require.NoError(t, err)
	on, _, _ := host.Recycles(f)
	require.True(t, on, "the watch recycles")
	w := &recycleWatch{f: f}
	m, err := f.BuildModel(ctx, nil)
	require.NoError(t, err)
	w.want, err = m.Predict(ctx, []byte("l"))
	require.NoError(t, err)
	require.NoError(t, m.Close(ctx))
	return w
}

func (w *recycleWatch) check(ctx context.Context) error {
	m, err := w.f.BuildModel(ctx, nil)
	if err != nil {
		return err
	}
	defer m.Close(ctx)
	got, err := m.Predict(ctx, []byte("l"))
	if err != nil {
		return err
	}
	if string(got) != string(w.want) {
		return fmt.Errorf("a recycled instance looks different: %x, want %x", got, w.want)
	}
	_, err = m.Predict(ctx, []byte("d"))
	return err
}

func recyclingHostileHosts(t *testing.T) (loops, others *host.Host) {
	opts := []host.Option{host.WithGrants(host.CapArtifact), host.WithRecycling(4),
		host.WithMemoryLimit(16 << 20), host.WithOutputLimit(1 << 20),
		host.WithArtifacts(host.ArtifactMap{"\x00": []byte("artifact")})}
	loops, _ = newHost(t, append(opts, host.WithCallTimeout(hostileTimeout))...)
	others, _ = newHost(t, append(opts, host.WithCallTimeout(time.Minute))...)
	return loops, others
}

// TestHostileRecycled runs every hostile module that reaches an instance
// with recycling on: each is snapshotted (dressed up as a Go guest), keeps
// its exact error class, leaves no instance kept when it failed, and a
// healthy recycling model on the same host sees a fresh instance's state
// after each.
func TestHostileRecycled(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	hl, h := recyclingHostileHosts(t)
	ctx := context.Background()
	cases, wasm := recycledHostile(t, h)
	memories := host.LiveMemories()
	watch := newRecycleWatch(t, h)
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			hh := pick(tc, hl, h)
			f, err := hh.Load(ctx, wasm[tc.file])
			require.NoError(t, err)
			defer f.Close(ctx)
			decoded, err := wasmbin.Decode(wasm[tc.file], wasmbin.DefaultLimits())
			require.NoError(t, err)
			_, stateOp := decoded.StateOp()
			require.Equal(t, !stateOp, f.Snapshotted(), "snapshotted unless it changes a table or drops a segment")
			require.NoError(t, runHostile(ctx, hh, tc, wasm[tc.file]))
			// The same once more on this factory, to look at what it kept.
			bctx, cancel := context.WithTimeout(ctx, hostileTimeout)
			m, err := f.BuildModel(bctx, []byte(`{}`))
			cancel()
			if err == nil {
				pctx, cancel := context.WithTimeout(ctx, hostileTimeout)
				_, err = m.Predict(pctx, []byte("hostile"))
				cancel()
				require.NoError(t, m.Close(ctx))
				on, kept, _ := host.Recycles(f)
				if err != nil && !errors.Is(err, host.ErrGuest) {
					assert.Zero(t, kept, "a failed instance (%v) is not kept", err)
				}
				t.Logf("recycles: %v, kept: %d, predict: %v", on, kept, err)
			}
			require.NoError(t, watch.check(ctx), "a healthy recycled model after %s", tc.file)
		})
	}
	_, _, reused := host.Recycles(watch.f)
	assert.GreaterOrEqual(t, reused, int64(len(cases)), "the watch ran recycled")
	require.NoError(t, watch.f.Close(ctx))
	assert.Equal(t, memories, host.LiveMemories(), "every guest memory is released")
}

// TestHostileSoakRecycled is the hostile soak with recycling on: the
// recycled hostile modules concurrently with healthy recycled models that
// check, every time, that they see a fresh instance's state.
func TestHostileSoakRecycled(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the soak (make test runs it)")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	hl, h := recyclingHostileHosts(t)
	ctx := context.Background()
	cases, wasm := recycledHostile(t, h)
	memories := host.LiveMemories()
	watch := newRecycleWatch(t, h)
	const rounds = 20
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for range rounds {
		for _, tc := range cases {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := runHostile(ctx, pick(tc, hl, h), tc, wasm[tc.file]); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			})
			wg.Go(func() {
				if err := watch.check(ctx); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	_, _, reused := host.Recycles(watch.f)
	assert.Positive(t, reused)
	require.NoError(t, watch.f.Close(ctx))
	assert.Equal(t, memories, host.LiveMemories(), "every guest memory is released")
}
