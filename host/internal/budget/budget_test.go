package budget

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
func waitQueued(t *testing.T, b *Budget, n int) {
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
	b := &Budget{total: 10, observe: log.observe}
	ctx := context.Background()
	ok, _ := b.Reserve(ctx, 8, true, time.Time{})
	require.True(t, ok)

	var wg sync.WaitGroup
	wg.Go(func() {
		ok, err := b.Reserve(ctx, 6, true, time.Time{})
		assert.True(t, ok, "%v", err)
	})
	waitQueued(t, b, 1)
	// 2 bytes are free, but the large request came first: the small one
	// queues behind it rather than overtaking it.
	ok, _ = b.Reserve(ctx, 2, false, time.Time{})
	assert.False(t, ok, "a request does not overtake a waiting one")
	wg.Go(func() {
		ok, err := b.Reserve(ctx, 2, true, time.Time{})
		assert.True(t, ok, "%v", err)
	})
	waitQueued(t, b, 2)
	b.Release(8)
	wg.Wait()
	assert.Equal(t, []uint64{8, 0, 6, 8}, log.values(), "the large request was granted first")
	b.Release(6)
	b.Release(2)
	assert.Zero(t, b.used)
}

// TestMemBudgetGiveUp checks that a waiter that gives up leaves the queue,
// and that those behind it are granted if they now fit.
func TestMemBudgetGiveUp(t *testing.T) {
	for _, canceled := range []bool{true, false} {
		t.Run(fmt.Sprintf("canceled=%v", canceled), func(t *testing.T) {
			b := &Budget{total: 10}
			ctx := context.Background()
			ok, _ := b.Reserve(ctx, 8, true, time.Time{})
			require.True(t, ok)
			giveUp, cancel := context.WithCancel(ctx)
			defer cancel()
			deadline := time.Time{}
			if !canceled {
				deadline = time.Now().Add(200 * time.Millisecond)
			}
			var wg sync.WaitGroup
			wg.Go(func() {
				ok, err := b.Reserve(giveUp, 6, true, deadline)
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
				ok, _ := b.Reserve(ctx, 2, true, time.Time{})
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
				b.Release(8) // let the goroutine end
				t.Fatal("the request behind the one that gave up was not granted")
			}
			wg.Wait()
			assert.Equal(t, uint64(10), b.used)
			assert.Zero(t, b.waiters.Len())
		})
	}
	t.Run("deadline already past", func(t *testing.T) {
		b := &Budget{total: 10}
		ok, _ := b.Reserve(context.Background(), 8, true, time.Time{})
		require.True(t, ok)
		ok, err := b.Reserve(context.Background(), 6, true, time.Now().Add(-time.Second))
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
	b := &Budget{total: total, observe: func(used uint64) {
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
				ok, err := b.Reserve(context.Background(), need, true, time.Time{})
				if !assert.True(t, ok, "%v", err) {
					return
				}
				b.Release(need)
			}
		})
	}
	wg.Wait()
	assert.Zero(t, over, "the reserved sum passed the total")
	assert.Zero(t, b.used)
	assert.Zero(t, b.waiters.Len())
}

// TestBudgetAccessors checks New, Total, Reserved and Observe against
// Reserve and Release.
func TestBudgetAccessors(t *testing.T) {
	b := New(100)
	assert.Equal(t, uint64(100), b.Total())
	var seen []uint64
	b.Observe(func(used uint64) { seen = append(seen, used) })
	ok, err := b.Reserve(context.Background(), 30, false, time.Time{})
	require.NoError(t, err)
	require.True(t, ok)
	used, total := b.Reserved()
	assert.Equal(t, [2]uint64{30, 100}, [2]uint64{used, total})
	ok, err = b.Reserve(context.Background(), 80, false, time.Time{})
	assert.NoError(t, err)
	assert.False(t, ok, "past the total, without waiting")
	b.Release(30)
	used, _ = b.Reserved()
	assert.Zero(t, used)
	assert.Equal(t, []uint64{30, 0}, seen)
}
