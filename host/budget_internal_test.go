package host

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitQueued waits until b has n waiters: the goroutines under test queue
// on their own schedule.
func waitQueued(t *testing.T, b *memBudget, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		b.mu.Lock()
		got := b.waiters.Len()
		b.mu.Unlock()
		if got == n {
			return
		}
		require.True(t, time.Now().Before(deadline), "%d waiters, want %d", got, n)
	}
}

// budgetLog records the reserved sum after every change. Safe for
// concurrent use.
type budgetLog struct {
	mu   sync.Mutex
	used []uint64
}

func (l *budgetLog) observe(used uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.used = append(l.used, used)
}

func (l *budgetLog) values() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]uint64(nil), l.used...)
}

func TestMemBudgetFIFO(t *testing.T) {
	log := &budgetLog{}
	b := &memBudget{total: 10, observe: log.observe}
	ctx := context.Background()
	ok, _ := b.reserve(ctx, 8, true, time.Time{})
	require.True(t, ok)

	var wg sync.WaitGroup
	wg.Go(func() {
		ok, err := b.reserve(ctx, 6, true, time.Time{})
		assert.True(t, ok, "%v", err)
	})
	waitQueued(t, b, 1)
	// 2 bytes are free, but the large request came first: the small one
	// queues behind it rather than overtaking it.
	ok, _ = b.reserve(ctx, 2, false, time.Time{})
	assert.False(t, ok, "a request does not overtake a waiting one")
	wg.Go(func() {
		ok, err := b.reserve(ctx, 2, true, time.Time{})
		assert.True(t, ok, "%v", err)
	})
	waitQueued(t, b, 2)
	b.release(8)
	wg.Wait()
	assert.Equal(t, []uint64{8, 0, 6, 8}, log.values(), "the large request was granted first")
	b.release(6)
	b.release(2)
	assert.Zero(t, b.used)
}

// TestMemBudgetGiveUp checks that a waiter that gives up leaves the queue,
// and that those behind it are granted if they now fit.
func TestMemBudgetGiveUp(t *testing.T) {
	for _, canceled := range []bool{true, false} {
		t.Run(fmt.Sprintf("canceled=%v", canceled), func(t *testing.T) {
			b := &memBudget{total: 10}
			ctx := context.Background()
			ok, _ := b.reserve(ctx, 8, true, time.Time{})
			require.True(t, ok)
			giveUp, cancel := context.WithCancel(ctx)
			defer cancel()
			deadline := time.Time{}
			if !canceled {
				deadline = time.Now().Add(200 * time.Millisecond)
			}
			var wg sync.WaitGroup
			wg.Go(func() {
				ok, err := b.reserve(giveUp, 6, true, deadline)
				assert.False(t, ok)
				if canceled {
					assert.ErrorIs(t, err, context.Canceled)
				} else {
					assert.NoError(t, err, "the deadline, not the context")
				}
			})
			waitQueued(t, b, 1)
			// The small request fits, but queues behind the large one
			// (unless the deadline passed meanwhile).
			small := make(chan bool, 1)
			wg.Go(func() {
				ok, _ := b.reserve(ctx, 2, true, time.Time{})
				small <- ok
			})
			if canceled {
				waitQueued(t, b, 2)
				cancel()
			}
			select {
			case ok := <-small:
				assert.True(t, ok, "granted once the request ahead gave up")
			case <-time.After(10 * time.Second):
				b.release(8) // let the goroutine end
				t.Fatal("the request behind the one that gave up was not granted")
			}
			wg.Wait()
			assert.Equal(t, uint64(10), b.used)
			assert.Zero(t, b.waiters.Len())
		})
	}
	t.Run("deadline already past", func(t *testing.T) {
		b := &memBudget{total: 10}
		ok, _ := b.reserve(context.Background(), 8, true, time.Time{})
		require.True(t, ok)
		ok, err := b.reserve(context.Background(), 6, true, time.Now().Add(-time.Second))
		assert.False(t, ok)
		assert.NoError(t, err)
		assert.Zero(t, b.waiters.Len())
		assert.Equal(t, uint64(8), b.used)
	})
}

// TestMemBudgetHammer reserves and releases from many goroutines, with
// requests of several sizes: the sum never passes the total, and every
// request is granted in the end.
func TestMemBudgetHammer(t *testing.T) {
	const total = 100
	var mu sync.Mutex
	var over uint64
	b := &memBudget{total: total, observe: func(used uint64) {
		mu.Lock()
		defer mu.Unlock()
		if used > total {
			over = used
		}
	}}
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 200 {
				need := uint64(1 + (g*7+i*13)%total)
				ok, err := b.reserve(context.Background(), need, true, time.Time{})
				if !assert.True(t, ok, "%v", err) {
					return
				}
				b.release(need)
			}
		})
	}
	wg.Wait()
	assert.Zero(t, over, "the reserved sum passed the total")
	assert.Zero(t, b.used)
	assert.Zero(t, b.waiters.Len())
}

func TestMemoryBudgetFor(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name             string
		physical, cgroup uint64
		want             uint64
	}{
		{"physical memory only", 24 * gib, 0, 12 * gib},
		{"a cgroup limit under it", 24 * gib, 4 * gib, 2 * gib},
		{"a cgroup limit over it", 4 * gib, 24 * gib, 2 * gib},
		{"a cgroup limit only", 0, 4 * gib, 2 * gib},
		{"nothing known", 0, 0, FallbackMemoryBudget},
		{"rounded down to a MiB", 24683584 << 10, 0, 12052 << 20},
		{"tiny", 100 << 10, 0, 64 << 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, memoryBudgetFor(tc.physical, tc.cgroup))
		})
	}
}

func TestSizeString(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "0 bytes", 1000: "1000 bytes", 1 << 10: "1 KiB", 3 << 20: "3 MiB",
		1<<20 + 1<<10: "1.0 MiB (1049600 bytes)", 12 << 30: "12 GiB", 2 << 40: "2 TiB",
		2<<20 - 1: "2.0 MiB (2097151 bytes)", 1500: "1.5 KiB (1500 bytes)",
	} {
		assert.Equal(t, want, sizeString(n), "%d", n)
	}
}
