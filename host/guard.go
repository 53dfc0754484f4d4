package host

import (
	"context"
	"sync"
	"time"
)

// guard bounds the calls on one model's instance in time, without the
// three allocations of a context.WithTimeout per call: its timer and done
// channel are made once per model, because the model's calls are
// serialised and a guard that fires closes the instance for good.
type guard struct {
	timer *time.Timer
	done  chan struct{} // closed when the running call must stop

	mu      sync.Mutex // guards the fields below
	armed   bool       // a call is running
	err     error      // why done was closed
	stopped bool       // the instance is closing: stop every call at once

	// Used by the goroutine running the call only.
	stopParent func() bool // ends the watch of the running call's parent
	timed      bool        // the timer was reset for the running call
}

func newGuard() *guard {
	g := &guard{done: make(chan struct{})}
	g.timer = time.AfterFunc(time.Hour, func() { g.fire(context.DeadlineExceeded) })
	g.timer.Stop()
	return g
}

// arm starts guarding a call on behalf of parent, for at most timeout (if
// positive), until disarm. It allocates only for a parent that can be
// canceled.
func (g *guard) arm(parent context.Context, timeout time.Duration) {
	g.mu.Lock()
	g.armed = true
	if g.stopped && g.err == nil {
		g.err = context.Canceled
		close(g.done)
	}
	g.mu.Unlock()
	g.timed = timeout > 0
	if g.timed {
		g.timer.Reset(timeout)
	}
	if parent.Done() != nil {
		g.stopParent = context.AfterFunc(parent, func() { g.fire(parent.Err()) })
	}
}

// disarm ends the guard of the running call. spent reports that the
// guard fired, or may still fire late, as the call ended (its timer or its
// parent's callback was already on its way): such a guard could stop the
// next call, so its instance must not be used again.
func (g *guard) disarm() (spent bool) {
	if g.timed && !g.timer.Stop() {
		spent = true
	}
	if g.stopParent != nil {
		if !g.stopParent() {
			spent = true
		}
		g.stopParent = nil
	}
	g.mu.Lock()
	g.armed = false
	spent = spent || g.err != nil
	g.mu.Unlock()
	return spent
}

// stop stops the running call, and any later one at once: the instance
// is being closed. wazero closes the module on the context's Canceled
// without freeing anything, and the call classifies the failure by what
// was closed.
func (g *guard) stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
	g.fire(context.Canceled)
}

func (g *guard) fire(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.armed && g.err == nil {
		g.err = err
		close(g.done)
	}
}

// guardCtx is the context a model's call runs under: its parent's values
// and deadline, the guard's Done and Err. wazero's close-on-context-done
// watches Done and closes the instance when it fires.
type guardCtx struct {
	context.Context
	g *guard
	c *call
}

func (x *guardCtx) Done() <-chan struct{} { return x.g.done }

func (x *guardCtx) Err() error {
	x.g.mu.Lock()
	defer x.g.mu.Unlock()
	return x.g.err
}

func (x *guardCtx) Value(key any) any {
	if key == (callKey{}) {
		return x.c
	}
	return x.Context.Value(key)
}
