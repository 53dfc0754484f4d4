package budget

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Budget is a weighted semaphore over bytes, with a FIFO queue of
// waiters: a request is granted only when it fits and no request that came
// before it is still waiting. So a large request is never overtaken by
// later small ones, and waits only for enough releases to fit it; the
// price is that small requests that would fit queue behind it until it
// is granted or gives up (at its context or the call timeout). A request
// larger than the whole budget is refused before it queues (the host's admit).
//
// A Budget is safe for concurrent use.
type Budget struct {
	total uint64 // set by New, then immutable

	mu      sync.Mutex // guards the fields below
	used    uint64
	waiters list.List // of *waiter, oldest first
	// observe, if set (by the tests), sees used after every change.
	observe func(used uint64)
}

type waiter struct {
	need  uint64
	ready chan struct{} // closed once the request is granted
}

// tryReserveLocked takes need bytes if they fit now and nobody waits before.
// The caller holds b.mu.
func (b *Budget) tryReserveLocked(need uint64) bool {
	if b.waiters.Len() > 0 || need > b.total-b.used {
		return false
	}
	b.used += need
	b.changed()
	return true
}

// Reserve takes need bytes, waiting, unless wait is false, until they are
// granted, ctx is done or the deadline (if not zero) passes. On failure it
// returns what ended the wait: ctx's error, or nil for the deadline. It
// starts no goroutine.
func (b *Budget) Reserve(ctx context.Context, need uint64, wait bool, deadline time.Time) (granted bool, cause error) {
	b.mu.Lock()
	if b.tryReserveLocked(need) {
		b.mu.Unlock()
		return true, nil
	}
	if !wait {
		b.mu.Unlock()
		return false, nil
	}
	w := &waiter{need: need, ready: make(chan struct{})}
	elem := b.waiters.PushBack(w)
	b.mu.Unlock()

	var timeout <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-w.ready:
		return true, nil
	case <-ctx.Done():
		cause = ctx.Err()
	case <-timeout:
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready:
		// Granted as the wait ended: give it back, as the caller gives up.
		b.used -= need
		b.changed()
	default:
		b.waiters.Remove(elem)
	}
	// Either way the requests behind this one may fit now.
	b.grantLocked()
	return false, cause
}

// Release gives back need bytes and grants the waiters that now fit.
func (b *Budget) Release(need uint64) {
	if need == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= need
	b.changed()
	b.grantLocked()
}

// grantLocked grants waiting requests in order while the oldest fits.
func (b *Budget) grantLocked() {
	for e := b.waiters.Front(); e != nil; e = b.waiters.Front() {
		w := e.Value.(*waiter)
		if w.need > b.total-b.used {
			return
		}
		b.used += w.need
		b.changed()
		b.waiters.Remove(e)
		close(w.ready)
	}
}

func (b *Budget) changed() {
	if b.observe != nil {
		b.observe(b.used)
	}
}

// New returns a budget of total bytes, none reserved.
func New(total uint64) *Budget { return &Budget{total: total} }

// Total returns the budget's size in bytes. It is safe for concurrent use.
func (b *Budget) Total() uint64 { return b.total }

// Reserved returns the bytes reserved now, and the total. It is safe for
// concurrent use.
func (b *Budget) Reserved() (used, total uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.total
}

// Observe makes fn see the reserved bytes after every change, under the
// budget's lock: fn must not call back into the budget. It is for tests,
// and safe for concurrent use.
func (b *Budget) Observe(fn func(used uint64)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.observe = fn
}
