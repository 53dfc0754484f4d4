package host

import (
	"context"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmreg/wasmreg/host/internal/guard"
	"github.com/wasmreg/wasmreg/host/internal/linmem"
)

// instance is one module instance: a model's, or the one Load reads the
// metadata from. Only the goroutine that took it from its model's idle
// channel, or the goroutine building it, runs calls on it.
//
// An instance is closed only while no call runs on it. wazero's Close of a
// module under a running call races with the call (it frees the memory
// the call may be growing), and the host's memories are unmapped when
// closed (package linmem). So a call, and the whole build, run between enter
// and exit; close on a busy instance only marks it and stops the call (its
// guard, or the build's context, makes wazero interrupt the guest at its
// next check, closing nothing), and the goroutine that ran the call
// finishes closing it at exit.
type instance struct {
	h       *Host
	mod     api.Module
	predict api.Function   // looked up once: ExportedFunction costs µs and KiB
	mem     *linmem.Memory // the instance's memory; nil if it has none
	stdio   *guestStdio    // the instance's WASI output, nil without WASI
	slot    *slot          // released when the instance is closed
	guard   *guard.Guard   // bounds each call in time
	// stack is the interrupt rewrite's stack budget, negative once a call
	// overflowed it; nil on a host made WithoutInterruption.
	stackBudget api.Global
	stack       [1]uint64

	// cancelBuild cancels the context the instantiation and the build
	// call run under; once built, the guard stops the calls.
	cancelBuild context.CancelFunc

	state atomic.Uint32 // instBusy | instClosing | instClosed

	// Recycling (recycle.go): set by start for a factory that recycles.
	recyclable  bool                // prepared for a reset
	tainted     atomic.Bool         // a WASI call changed state a reset does not restore
	globals     []api.MutableGlobal // the snapshot's globals, looked up once
	flag        api.MutableGlobal   // the interrupt rewrite's stop flag, nil without it
	flagInit    uint64
	stackGlobal api.MutableGlobal // and its stack budget
	stackInit   uint64
	clock       *recycleClock // the instance's fake WASI clocks
	build       api.Function  // wasmreg_build, looked up once

	// The records of the instance's current call, reused call after call
	// to save their allocations: calls on an instance are serialised, and
	// wazero's watcher of a finished call reads only gctx.g, never changed.
	call call
	gctx guardCtx
}

// stackOverflowed reports whether a call trapped because it overran the
// guest call stack's budget: the interrupt rewrite's counter is negative
// only then.
func (i *instance) stackOverflowed() bool {
	return i.stackBudget != nil && int32(uint32(i.stackBudget.Get())) < 0
}

const (
	instBusy    = 1 << iota // a call or the build runs on the instance
	instClosing             // close was called while busy
	instClosed              // closed: its module and memory are gone
)

// enter begins a call on an idle instance; false means it was closed.
func (i *instance) enter() bool { return i.state.CompareAndSwap(0, instBusy) }

// exit ends what enter (or the build) began. If close was called
// meanwhile, exit closes the instance and returns false.
func (i *instance) exit() bool {
	if i.state.CompareAndSwap(instBusy, 0) {
		return true
	}
	i.finish()
	return false
}

// close closes an idle instance at once, and stops the call running on a
// busy one, whose goroutine closes it at exit. It is idempotent and safe
// for concurrent use.
func (i *instance) close() {
	for {
		s := i.state.Load()
		switch {
		case s&(instClosing|instClosed) != 0:
			return
		case s&instBusy != 0:
			if i.state.CompareAndSwap(s, s|instClosing) {
				i.cancelBuild()
				i.guard.Stop()
				return
			}
		default:
			if i.state.CompareAndSwap(s, instClosed) {
				i.finish()
				return
			}
		}
	}
}

// finish closes the instance: its module, its memory, its slot. The
// caller holds the instance busy, or won it idle in close.
func (i *instance) finish() {
	if testHookFinish != nil {
		testHookFinish(i)
	}
	i.state.Store(instClosed)
	i.cancelBuild()
	i.guard.Release()
	if i.mod != nil {
		_ = i.mod.Close(context.Background())
	}
	i.mem.Release()
	i.slot.release()
	i.h.forget(i)
}

// testHookFinish, if set, runs as an instance is closed: the tests check
// the lock order with it.
var testHookFinish func(*instance)

// track registers a new instance so that Host.Close can close it; false
// means the host is closed.
func (h *Host) track(i *instance) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed.Load() {
		return false
	}
	h.live[i] = struct{}{}
	return true
}

// forget unregisters a closed instance, and tells a waiting Close when it
// was the last.
func (h *Host) forget(i *instance) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.live, i)
	if h.closed.Load() && len(h.live) == 0 && h.drained != nil {
		close(h.drained)
		h.drained = nil
	}
}
