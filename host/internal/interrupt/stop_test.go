package interrupt

import (
	"context"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero/api"
)

// hostileCase is a guest that runs until stopped (or for hours).
type hostileCase struct {
	name string
	file string // under testdata
	arg  uint64 // of run
	init bool   // call init(0) first
}

var hostileCases = []hostileCase{
	{name: "loop-free recursion", file: "recursion.wasm", arg: 40},
	{name: "recursion through call_indirect", file: "indirect.wasm", arg: 40},
	{name: "fan-out of straight-line calls", file: "fanout.wasm"},
	{name: "loop of 10,100 calls an iteration", file: "loopcalls.wasm"},
	{name: "memory.fill of 64 MiB in a loop", file: "fill.wasm", arg: 7, init: true},
	{name: "pointer chase through 64 MiB", file: "chase.wasm", init: true},
	{name: "recursion chasing pointers as it returns", file: "tails.wasm", init: true},
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return b
}

// hostileRun is one hostile guest running on its own goroutine.
type hostileRun struct {
	mod    api.Module
	plan   *Plan
	done   chan error
	yields api.Global
}

func startHostile(t *testing.T, hc hostileCase, opts Options) *hostileRun {
	t.Helper()
	opts.countYields = true
	out, plan := instrument(t, fixture(t, hc.file), opts)
	mod := instantiate(t, newRuntime(t), out)
	if hc.init {
		_, err := mod.ExportedFunction("init").Call(context.Background(), 0)
		require.NoError(t, err)
	}
	h := &hostileRun{mod: mod, plan: plan, done: make(chan error, 1), yields: mod.ExportedGlobal(yieldsGlobal)}
	run := mod.ExportedFunction("run")
	go func() {
		_, err := run.Call(context.Background(), hc.arg)
		h.done <- err
	}()
	return h
}

// stop raises the flag and returns how long the guest took to trap.
func (h *hostileRun) stop(t *testing.T) time.Duration {
	t.Helper()
	began := time.Now()
	h.mod.ExportedGlobal(StopGlobal).(api.MutableGlobal).Set(StopValue)
	select {
	case err := <-h.done:
		took := time.Since(began)
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), "wasm error: unreachable"), "%v", err)
		assert.True(t, h.plan.Stopped(h.mod))
		assert.False(t, h.plan.StackOverflowed(h.mod))
		return took
	case <-time.After(10 * time.Second):
		t.Fatal("the guest did not stop within 10 s of its flag")
		return 0
	}
}

// sampleYields samples the guest's count of returns to Go until stop is
// closed and returns the longest time the count stood still, and how many
// returns it saw.
func (h *hostileRun) sampleYields(stop <-chan struct{}) (time.Duration, uint64) {
	last, lastAt := h.yields.Get(), time.Now()
	first := last
	var longest time.Duration
	for {
		select {
		case <-stop:
			return max(longest, time.Since(lastAt)), last - first
		default:
		}
		time.Sleep(100 * time.Microsecond)
		if n := h.yields.Get(); n != last {
			now := time.Now()
			longest = max(longest, now.Sub(lastAt))
			last, lastAt = n, now
		}
	}
}

// TestStopsHostileGuests runs each hostile guest for 300 ms, measuring the
// gaps between its returns to Go, then raises its flag: it must trap
// within a few ms.
func TestStopsHostileGuests(t *testing.T) {
	for _, hc := range hostileCases {
		t.Run(hc.name, func(t *testing.T) {
			h := startHostile(t, hc, Options{})
			stop := make(chan struct{})
			var gap time.Duration
			var yields uint64
			var wg sync.WaitGroup
			wg.Go(func() { gap, yields = h.sampleYields(stop) })
			time.Sleep(300 * time.Millisecond)
			close(stop)
			wg.Wait()
			took := h.stop(t)
			t.Logf("%s: %d returns to Go in 300 ms, the longest gap %v; stopped %v after its flag", hc.name, yields, gap, took)
			// Generous bounds, for a machine shared with other work (whose
			// own noise, TestHeartbeat's first case, reaches 0.5 s): the
			// checks make them a few ms; without them these guests never
			// return to Go and run for minutes.
			assert.NotZero(t, yields, "returns to Go")
			assert.Less(t, took, 5*time.Second, "stop latency")
			assert.Less(t, gap, 5*time.Second, "gap between returns to Go")
		})
	}
}

// TestHeartbeat runs each hostile guest while another goroutine beats
// every millisecond, allocating, and a third collects garbage: no beat
// may wait long on the guest, which Go cannot preempt.
func TestHeartbeat(t *testing.T) {
	for _, hc := range append([]hostileCase{{name: "no guest (the machine's own noise)"}}, hostileCases...) {
		t.Run(hc.name, func(t *testing.T) {
			var h *hostileRun
			if hc.file != "" {
				h = startHostile(t, hc, Options{})
			}
			stop := make(chan struct{})
			var longest time.Duration
			var wg sync.WaitGroup
			sink := make([][]byte, 64)
			wg.Go(func() {
				last := time.Now()
				for i := 0; ; i++ {
					select {
					case <-stop:
						longest = max(longest, time.Since(last))
						return
					default:
					}
					time.Sleep(time.Millisecond)
					sink[i%len(sink)] = make([]byte, 64<<10) // garbage, so that the GC runs
					now := time.Now()
					longest = max(longest, now.Sub(last))
					last = now
				}
			})
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					case <-time.After(10 * time.Millisecond):
						runtime.GC()
					}
				}
			})
			before := stwStopping()
			time.Sleep(500 * time.Millisecond)
			close(stop)
			wg.Wait()
			stw := stwStopping()
			var took time.Duration
			if h != nil {
				took = h.stop(t)
			}
			gap := longest
			t.Logf("%s: longest heartbeat gap %v, longest wait to stop the world so far ≤ %v (before %v); stopped %v after its flag", hc.name, gap, stw, before, took)
			assert.Less(t, gap, 5*time.Second, "heartbeat gap") // generous: see TestStopsHostileGuests
		})
	}
}

// stwStopping returns the upper bound of the highest non-empty bucket of
// the runtime's histogram of the time taken to stop the world for the GC:
// how long the world waited for the guest to return to Go.
func stwStopping() time.Duration {
	s := []metrics.Sample{{Name: "/sched/pauses/stopping/gc:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	h := s[0].Value.Float64Histogram()
	for i := len(h.Counts) - 1; i >= 0; i-- {
		if h.Counts[i] > 0 {
			return time.Duration(h.Buckets[i+1] * float64(time.Second))
		}
	}
	return 0
}
