package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// dressedAsGo returns the fixture testdata/recycle/name.wasm with a
// "go:buildid" custom section and padding to snapshot.MinSize, so that the
// host snapshots it as it does a Go guest, and recycles its instances.
func dressedAsGo(t testing.TB, name string) []byte {
	t.Helper()
	wasm, err := os.ReadFile(filepath.Join("testdata", "recycle", name+".wasm"))
	require.NoError(t, err)
	return DressAsGo(wasm)
}

func recycleHost(t testing.TB, opts ...Option) *Host {
	t.Helper()
	ctx := context.Background()
	h, err := New(ctx, append([]Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, h.Close(ctx)) })
	return h
}

// instanceDump is everything of an instance's state a guest can see, and
// the host-side state that follows it from model to model.
type instanceDump struct {
	memory         []byte
	globals        []uint64 // the module's own, then the stop flag and the stack budget
	wall, mono     int64    // the next WASI clock readings
	stdioRemaining int
	stdioWarned    bool
	stdout, stderr int // bytes of partial lines
	tainted, fired bool
	call           call
	gctxSet        bool
}

func dump(inst *instance) instanceDump {
	mem := inst.mod.Memory()
	view, _ := mem.Read(0, mem.Size())
	d := instanceDump{memory: bytes.Clone(view), tainted: inst.tainted.Load(), fired: inst.guard.Fired() || inst.guard.Stopped(),
		call: inst.call, gctxSet: inst.gctx.Context != nil || inst.gctx.c != nil}
	for _, g := range inst.globals {
		d.globals = append(d.globals, g.Get())
	}
	if inst.flag != nil {
		d.globals = append(d.globals, inst.flag.Get(), inst.stackGlobal.Get())
	}
	if inst.clock != nil {
		d.wall, d.mono = inst.clock.wall.Load(), inst.clock.mono.Load()
	}
	if s := inst.stdio; s != nil {
		s.mu.Lock()
		d.stdioRemaining, d.stdioWarned, d.stdout, d.stderr = s.remaining, s.warned, len(s.stdout.line), len(s.stderr.line)
		s.mu.Unlock()
	}
	return d
}

// recordBuilds sets testHookBuild, for the test, to record each build's
// instance and its dump before wasmreg_build runs.
func recordBuilds(t *testing.T) (insts *[]*instance, dumps *[]instanceDump) {
	var mu sync.Mutex
	insts, dumps = new([]*instance), new([]instanceDump)
	testHookBuild = func(inst *instance) {
		mu.Lock()
		defer mu.Unlock()
		*insts = append(*insts, inst)
		*dumps = append(*dumps, dump(inst))
	}
	t.Cleanup(func() { testHookBuild = nil })
	return insts, dumps
}

// TestRecycleIsolation is the isolation proof of recycling: a model that
// wrote every byte of its memory, grew it and set every global, then
// closed, leaves nothing behind: the next model built on its instance
// starts from exactly the state a fresh instance starts from (the whole
// memory, every global, the WASI clocks, the output cap, the call record),
// and the guest sees what it sees in a fresh instance, on a host that does
// not recycle too.
func TestRecycleIsolation(t *testing.T) {
	plain, err := os.ReadFile(filepath.Join("testdata", "recycle", "dirty.wasm"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		wasm  []byte
		pages uint32 // of memory the module declares
	}{
		// Any module the snapshot rewrite takes is recycled: a small
		// image is copied into each memory and back at every reset, a
		// large one mapped copy-on-write and its written pages dropped.
		{"small module, copied image", plain, 2},
		{"as a Go guest, copied image", dressedAsGo(t, "dirty"), 2},
		{"as a Go guest, mapped image", withMemoryPages(t, dressedAsGo(t, "dirty"), 5), 5},
	} {
		t.Run(tc.name, func(t *testing.T) { testRecycleIsolation(t, tc.wasm, tc.pages) })
	}
}

// withMemoryPages returns wasm with its memory's minimum set to pages.
func withMemoryPages(t *testing.T, wasm []byte, pages uint32) []byte {
	t.Helper()
	m, err := wasmbin.Decode(wasm, wasmbin.DefaultLimits())
	require.NoError(t, err)
	out := append([]byte(nil), wasm[:8]...)
	for i := range m.Sections {
		sec := &m.Sections[i]
		if sec.ID == wasmbin.SecMemory {
			out = wasmbin.AppendSection(out, sec.ID, wasmbin.AppendU32([]byte{1, 0}, pages))
			continue
		}
		out = append(out, wasm[sec.Offset:sec.End()]...)
	}
	return out
}

func testRecycleIsolation(t *testing.T, wasm []byte, pages uint32) {
	ctx := context.Background()
	h := recycleHost(t, WithRecycling(2))
	f, err := h.Load(ctx, wasm)
	require.NoError(t, err)
	require.NotNil(t, f.snap, "snapshotted")
	require.Equal(t, int(pages*wasmPageSize), f.snap.Size(), "an image of the whole memory")
	require.NotNil(t, f.recycle, "and recycled")
	insts, dumps := recordBuilds(t)

	var looks [][]byte
	const rounds = 5
	for round := range rounds {
		m, err := f.BuildModel(ctx, nil)
		require.NoError(t, err)
		look, err := m.Predict(ctx, []byte("l"))
		require.NoError(t, err)
		looks = append(looks, look)
		_, err = m.Predict(ctx, []byte("d"))
		require.NoError(t, err, "round %d", round)
		dirty, err := m.Predict(ctx, []byte("l"))
		require.NoError(t, err)
		require.NotEqual(t, look, dirty, "the guest did change its state")
		require.Equal(t, (pages+5)*wasmPageSize, m.all[0].mod.Memory().Size(), "and grew its memory")
		require.NoError(t, m.Close(ctx))
	}
	require.Len(t, *insts, rounds)
	for round := 1; round < rounds; round++ {
		assert.Same(t, (*insts)[0], (*insts)[round], "round %d reuses the instance", round)
		fresh, recycled := (*dumps)[0], (*dumps)[round]
		require.Equal(t, len(fresh.memory), len(recycled.memory), "round %d: memory size", round)
		assert.True(t, bytes.Equal(fresh.memory, recycled.memory), "round %d: memory", round)
		assert.Equal(t, fresh, recycled, "round %d: the whole state", round)
		assert.Equal(t, looks[0], looks[round], "round %d: what the guest sees", round)
	}
	assert.Equal(t, int64(rounds-1), f.reused.Load())
	assert.Equal(t, int64(1), f.kept.Load(), "the last model's instance is kept")
	live := LiveMemories()
	require.NoError(t, f.Close(ctx))
	assert.Equal(t, int64(0), f.kept.Load(), "closing the factory closes what it kept")
	assert.Equal(t, live-1, LiveMemories(), "and releases its memory")
	_, err = f.BuildModel(ctx, nil)
	require.ErrorIs(t, err, ErrFactoryClosed, "no build after Close, kept instance or not")

	// A host that never recycles: the same state, as the guest sees it.
	plain := recycleHost(t, WithRecycling(0))
	pf, err := plain.Load(ctx, wasm)
	require.NoError(t, err)
	assert.Nil(t, pf.recycle)
	m, err := pf.BuildModel(ctx, nil)
	require.NoError(t, err)
	look, err := m.Predict(ctx, []byte("l"))
	require.NoError(t, err)
	assert.Equal(t, looks[0], look)
	require.NoError(t, m.Close(ctx))
	assert.Equal(t, int64(0), pf.kept.Load())
}

// TestRecycleRefused checks that an instance that might hold state a
// reset does not restore is closed, never recycled: one that trapped mid
// write, timed out, was closed under a running call, or closed its stdout
// through WASI; and that a module with an instruction that changes a table
// is never recycled at all.
func TestRecycleRefused(t *testing.T) {
	ctx := context.Background()
	wasm := dressedAsGo(t, "dirty")
	tests := []struct {
		name string
		opts []Option
		run  func(t *testing.T, m *Model) // ends with the model closed
		kind error                        // of the predict's error, nil if it succeeds
	}{
		{name: "trap mid-write", run: func(t *testing.T, m *Model) {
			_, err := m.Predict(ctx, []byte("t"))
			require.ErrorIs(t, err, ErrTrap)
			require.NoError(t, m.Close(ctx))
		}},
		{name: "timeout", opts: []Option{WithCallTimeout(50 * time.Millisecond)}, run: func(t *testing.T, m *Model) {
			_, err := m.Predict(ctx, []byte("s"))
			require.ErrorIs(t, err, ErrTimeout)
			require.NoError(t, m.Close(ctx))
		}},
		{name: "caller's context canceled", run: func(t *testing.T, m *Model) {
			cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			_, err := m.Predict(cctx, []byte("s"))
			require.Error(t, err)
			require.NoError(t, m.Close(ctx))
		}},
		{name: "closed under a running call", run: func(t *testing.T, m *Model) {
			done := make(chan error, 1)
			go func() {
				_, err := m.Predict(ctx, []byte("s"))
				done <- err
			}()
			require.Eventually(t, func() bool { return m.all[0].state.Load()&instBusy != 0 }, 10*time.Second, time.Millisecond)
			require.NoError(t, m.Close(ctx))
			require.ErrorIs(t, <-done, ErrModelClosed)
		}},
		{name: "closed its stdout", run: func(t *testing.T, m *Model) {
			_, err := m.Predict(ctx, []byte("f"))
			require.NoError(t, err)
			require.NoError(t, m.Close(ctx))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := recycleHost(t, append([]Option{WithRecycling(4)}, tc.opts...)...)
			f, err := h.Load(ctx, wasm)
			require.NoError(t, err)
			require.NotNil(t, f.recycle)
			insts, _ := recordBuilds(t)
			m, err := f.BuildModel(ctx, nil)
			require.NoError(t, err)
			tc.run(t, m)
			assert.Equal(t, int64(0), f.kept.Load(), "not kept")
			m2, err := f.BuildModel(ctx, nil)
			require.NoError(t, err)
			assert.NotSame(t, (*insts)[0], (*insts)[1], "the next build has a fresh instance")
			assert.Equal(t, int64(0), f.reused.Load())
			_, err = m2.Predict(ctx, []byte("l"))
			require.NoError(t, err)
			require.NoError(t, m2.Close(ctx))
			assert.Equal(t, int64(1), f.kept.Load(), "a clean close is recycled")
		})
	}

	t.Run("table.grow", func(t *testing.T) {
		h := recycleHost(t, WithRecycling(4))
		f, err := h.Load(ctx, dressedAsGo(t, "table"))
		require.NoError(t, err)
		assert.Nil(t, f.snap, "not snapshotted: _initialize could change the table, which a snapshot does not hold")
		assert.Nil(t, f.recycle, "nor recycled")
		assert.ErrorContains(t, f.noRecycle, "changes a table")
		m, err := f.BuildModel(ctx, nil)
		require.NoError(t, err)
		_, err = m.Predict(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, m.Close(ctx))
		assert.Equal(t, int64(0), f.kept.Load())
	})
	t.Run("not snapshotted", func(t *testing.T) {
		h := recycleHost(t, WithRecycling(4), WithoutSnapshots())
		f, err := h.Load(ctx, wasm)
		require.NoError(t, err)
		assert.Nil(t, f.recycle)
	})
}

// TestRecycleConcurrent builds, predicts and closes from many goroutines
// on a factory that recycles, with a Close of the factory and the host
// racing the last of them: every look sees the fresh state, and nothing
// leaks (the race detector and goleak watch the rest).
func TestRecycleConcurrent(t *testing.T) {
	ctx := context.Background()
	wasm := dressedAsGo(t, "dirty")
	live := LiveMemories()
	h, err := New(ctx, WithRecycling(3), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	f, err := h.Load(ctx, wasm)
	require.NoError(t, err)
	m, err := f.BuildModel(ctx, nil)
	require.NoError(t, err)
	want, err := m.Predict(ctx, []byte("l"))
	require.NoError(t, err)
	require.NoError(t, m.Close(ctx))

	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				m, err := f.BuildModel(ctx, nil)
				if err != nil {
					errs <- err
					return
				}
				got, err := m.Predict(ctx, []byte("l"))
				if err == nil && !bytes.Equal(got, want) {
					err = errors.New("a recycled instance looks different")
				}
				if err == nil && (w+r)%3 == 0 {
					_, err = m.Predict(ctx, []byte("d"))
				}
				if err == nil && (w+r)%7 == 0 {
					_, err = m.Predict(ctx, []byte("t")) // a trap: discarded
					if errors.Is(err, ErrTrap) {
						err = nil
					}
				}
				if cerr := m.Close(ctx); err == nil {
					err = cerr
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Positive(t, f.reused.Load(), "instances were recycled")
	assert.LessOrEqual(t, f.kept.Load(), int64(3), "at most the bound is kept")

	// Closing the factory and the host under builds and closes.
	var wg2 sync.WaitGroup
	for range 4 {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for range 10 {
				m, err := f.BuildModel(ctx, nil)
				if err != nil {
					return
				}
				_ = m.Close(ctx)
			}
		}()
	}
	time.Sleep(5 * time.Millisecond)
	require.NoError(t, f.Close(ctx))
	wg2.Wait()
	assert.Equal(t, int64(0), f.kept.Load(), "a closed factory keeps nothing")
	require.NoError(t, h.Close(ctx))
	assert.Equal(t, live, LiveMemories(), "no memory leaked")
}

// TestRecycleGoGuest is the differential test on a real Go guest: the same
// build and predict sequences on a host that recycles and on one that
// does not give the same outputs, every one, and the recycling host does
// recycle (a trap is not).
func TestRecycleGoGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and compiles a Go guest (make test runs it)")
	}
	ctx := context.Background()
	wasm := buildGoGuest(t)
	cache := WithCompilationCacheDir(t.TempDir()) // the second host's compile is a cache hit
	hosts := map[string]*Host{"fresh": recycleHost(t, cache, WithRecycling(0)), "recycled": recycleHost(t, cache, WithRecycling(2))}
	type step struct {
		config string
		inputs []string
	}
	steps := []step{
		{`{"scale": 2}`, []string{`[1,2,3]`, `not json`, `print`, `[0.5]`, `partial`}},
		{`{}`, []string{`[1,2,3]`, `[]`}},
		{`{"scale": -1.5}`, []string{`[4,8]`, `print`, `[1e300, 3]`}},
		{`{"scale": "x"}`, nil}, // a failed build
		{`{"scale": 3}`, []string{`[1]`, `panic`}},
		{`{"scale": 0.25}`, []string{`[16, 32]`}},
		{`{}`, []string{`[1,2,3]`}},
	}
	outputs := map[string][]string{}
	var factory *Factory
	for name, h := range hosts {
		f, err := h.Load(ctx, wasm)
		require.NoError(t, err)
		require.NotNil(t, f.snap)
		if name == "recycled" {
			require.NotNil(t, f.recycle)
			factory = f
		}
		var out []string
		record := func(b []byte, err error) {
			if err != nil {
				var ce *CallError
				if errors.As(err, &ce) {
					b, _ = json.Marshal([]any{ce.Kind.Error(), ce.Code, ce.Message})
				} else {
					b = []byte(err.Error())
				}
			}
			out = append(out, string(b))
		}
		for range 2 { // twice, so that every step runs on a recycled instance too
			for _, s := range steps {
				m, err := f.BuildModel(ctx, []byte(s.config))
				if err != nil {
					record(nil, err)
					continue
				}
				for _, in := range s.inputs {
					record(m.Predict(ctx, []byte(in)))
				}
				require.NoError(t, m.Close(ctx))
			}
		}
		outputs[name] = out
	}
	assert.Equal(t, outputs["fresh"], outputs["recycled"])
	assert.Positive(t, factory.reused.Load(), "the recycling host recycled")
	t.Logf("%d builds of %d reused a recycled instance", factory.reused.Load(), 2*len(steps))
}
