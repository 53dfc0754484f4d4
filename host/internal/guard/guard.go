package guard

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmreg/wasmreg/host/internal/interrupt"
)

// Guard bounds the calls on one instance in time: see the package doc for
// how. Arm and Disarm are called by the goroutine running the instance's
// call; Stop, Fired, Reason, Done and Err are safe for concurrent use.
type Guard struct {
	timer *time.Timer   // runs expire
	done  chan struct{} // closed when the running call must stop: the Done of its context

	// deadline is the running call's, on guardNow's clock; guardNoDeadline
	// for a call without a timeout, guardIdle between calls, guardFired once
	// the guard has fired. A firing swaps the deadline it judged for
	// guardFired, so a late one cannot stop a later call.
	deadline atomic.Int64
	// pending is set from the moment Arm or expire schedules the timer until
	// expire finds no call to wait for: Arm schedules it only when clear.
	pending atomic.Bool

	mu  sync.Mutex // guards err
	err error      // why done was closed

	// flag is the instance's stop flag if it checks one (the interrupt
	// rewrite): firing raises it, and the guest traps at its next function
	// entry or loop header. Set once, before the first call.
	flag api.MutableGlobal

	// stopped is set by stop, for good: the instance is being closed, so
	// its running call and any later one must stop at once.
	stopped atomic.Bool

	// Used by the goroutine running the call only.
	stopParent func() bool // ends the watch of the running call's parent
}

// The special values of guard.deadline. A call's deadline is positive:
// guardNow counts from the package's initialisation.
const (
	guardIdle       = 0
	guardFired      = -1
	guardNoDeadline = math.MaxInt64
)

var guardEpoch = time.Now()

// guardNow is a monotonic clock in nanoseconds: time.Since of a time with a
// monotonic reading reads only the runtime's monotonic clock.
func guardNow() int64 { return int64(time.Since(guardEpoch)) }

func New() *Guard {
	g := &Guard{done: make(chan struct{})}
	g.timer = time.AfterFunc(time.Hour, g.expire)
	g.timer.Stop()
	return g
}

// Arm starts guarding a call on behalf of parent, for at most timeout (if
// positive; the same timeout on every call of the guard), until Disarm. It
// allocates only for a parent that can be canceled.
func (g *Guard) Arm(parent context.Context, timeout time.Duration) {
	if timeout > 0 {
		now := guardNow()
		d := now + int64(timeout)
		if d < now { // overflowed: a timeout of centuries
			d = guardNoDeadline - 1
		}
		g.deadline.Store(d)
		// The deadline is stored first: an expire that clears pending then
		// sees it and schedules the timer itself.
		if !g.pending.Load() && g.pending.CompareAndSwap(false, true) {
			g.timer.Reset(timeout)
		}
	} else {
		g.deadline.Store(guardNoDeadline)
	}
	if parent.Done() != nil {
		g.stopParent = context.AfterFunc(parent, func() { g.fireRunning(parent.Err()) })
	}
	// After the deadline is stored: either stop sees it, or this sees stop.
	if g.stopped.Load() {
		g.fireRunning(context.Canceled)
	}
}

// Stop stops the running call, if any, and every later one at once: the
// instance is being closed. The guest traps at its stop flag, freeing
// nothing, and the call's error says what was closed (classify).
func (g *Guard) Stop() {
	g.stopped.Store(true)
	g.fireRunning(context.Canceled)
}

// Disarm ends the guard of the running call. spent reports that the guard
// fired, or that the parent's callback was already on its way as the call
// ended: such a guard could stop the next call, so its instance must not
// be used again. (A late timer cannot: it judges the deadline it finds.)
func (g *Guard) Disarm() (spent bool) {
	if g.stopParent != nil {
		spent = !g.stopParent()
		g.stopParent = nil
	}
	// A failed swap means the guard fired meanwhile; guardFired stays for good.
	if d := g.deadline.Load(); d == guardFired || !g.deadline.CompareAndSwap(d, guardIdle) {
		return true
	}
	return spent
}

// Fired reports whether the guard has fired: the running call must stop.
// It is safe to call from any goroutine.
func (g *Guard) Fired() bool { return g.deadline.Load() == guardFired }

// Reason returns why the guard fired, nil if it has not.
func (g *Guard) Reason() error {
	for {
		g.mu.Lock()
		err := g.err
		g.mu.Unlock()
		if err != nil || !g.Fired() {
			return err
		}
		// fire won the deadline and is about to record why.
		runtime.Gosched()
	}
}

// expire is the timer's function.
func (g *Guard) expire() {
	for {
		if d := g.deadline.Load(); d != guardIdle && d != guardFired && d != guardNoDeadline {
			now := guardNow()
			if now < d {
				g.timer.Reset(time.Duration(d - now))
				return
			}
			if g.fire(d, context.DeadlineExceeded) {
				return
			}
			continue // that call ended meanwhile; judge the next one, if any
		}
		// No call to wait for: the next Arm schedules the timer, unless one
		// stored its deadline after the load above and saw pending still set.
		g.pending.Store(false)
		if d := g.deadline.Load(); d == guardIdle || d == guardFired || d == guardNoDeadline || !g.pending.CompareAndSwap(false, true) {
			return
		}
	}
}

// fireRunning stops the running call, if any, with err.
func (g *Guard) fireRunning(err error) {
	for {
		d := g.deadline.Load()
		if d == guardIdle || d == guardFired || g.fire(d, err) {
			return
		}
	}
}

// fire stops the call whose deadline is d, if it is still running, with
// err. It reports whether the deadline was still d.
func (g *Guard) fire(d int64, err error) bool {
	if !g.deadline.CompareAndSwap(d, guardFired) {
		return false
	}
	g.mu.Lock()
	g.err = err
	g.mu.Unlock()
	close(g.done)
	if g.flag != nil {
		g.flag.Set(interrupt.StopValue)
	}
	return true
}

// Done returns the channel closed when the running call must stop: the
// Done of its context. It is safe for concurrent use.
func (g *Guard) Done() <-chan struct{} { return g.done }

// Err returns why Done was closed, nil if it was not: the Err of the
// running call's context. It is safe for concurrent use.
func (g *Guard) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// SetFlag sets the instance's stop flag, which firing raises. It is called
// once, before the first call, by the goroutine building the instance.
func (g *Guard) SetFlag(flag api.MutableGlobal) { g.flag = flag }

// Stopped reports whether Stop was called: the instance is being closed.
// It is safe for concurrent use.
func (g *Guard) Stopped() bool { return g.stopped.Load() }

// Release stops the guard's timer: the instance is closed. A timer
// already running finds no call and rests. It is safe for concurrent use.
func (g *Guard) Release() { g.timer.Stop() }
