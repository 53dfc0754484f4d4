package host

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/wasmreg/wasmreg/registry"
)

// Model is a built model: one or more private instances of its factory's
// module, each built with the model's config. It implements
// [registry.Model].
//
// A Model is safe for concurrent use by multiple goroutines. A guest
// instance runs one call at a time, so a model's Predicts are serialised on
// its instance; with [WithModelInstances] greater than one, a model builds
// further instances (with the same config) on demand, up to that number,
// and concurrent Predicts run on them in parallel. A Predict that finds
// every instance busy waits for one, and gives up with its context's error
// if that is done first. Instances of one model must answer alike: a
// factory whose predictions change its state should run with one instance.
//
// A trap, a timeout or a broken limit closes the model, every instance of
// it: that Predict returns a [*CallError] and later ones fail with
// [ErrModelClosed].
type Model struct {
	f      *Factory
	config []byte // to build more instances
	size   int    // most instances

	idle   chan *instance // instances ready for a call
	closed chan struct{}  // closed when the model is

	// mu guards the fields below. It is a leaf lock: nothing that takes
	// another lock (closing an instance takes the host's) or calls a guest
	// runs under it.
	mu       sync.Mutex
	all      []*instance // every open instance
	growing  int         // instances being built
	closedBy error       // why the model was closed after a failure

	closedByOwner atomic.Bool // set once by Close
	closeOnce     sync.Once
}

var _ registry.Model = (*Model)(nil)

func newModel(f *Factory, config []byte, first *instance) *Model {
	size := f.h.cfg.modelInstances
	m := &Model{f: f, config: config, size: size,
		idle: make(chan *instance, size), closed: make(chan struct{}), all: []*instance{first}}
	m.idle <- first
	return m
}

// Predict calls the guest's wasmreg_predict with input and returns what the
// guest wrote with output. It runs in its own request scope of the host's
// container, bounded by ctx and the host's call timeout.
func (m *Model) Predict(ctx context.Context, input []byte) ([]byte, error) {
	f, h := m.f, m.f.h
	if len(input) > h.cfg.inputLimit {
		return nil, overLimit(&LimitError{Kind: ErrInputLimit, Option: "WithInputLimit",
			Limit: int64(h.cfg.inputLimit), Got: int64(len(input)),
			Detail: fmt.Sprintf("factory %q: request is %d bytes, the limit is %d", f.fullName, len(input), h.cfg.inputLimit)})
	}
	inst, err := m.acquire(ctx)
	if err != nil {
		return nil, err
	}
	if !inst.enter() { // closed by the model's Close, or the host's
		if err := m.usable(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: factory %q: the instance was closed", ErrModelClosed, f.fullName)
	}

	// c is zero between calls (see below): set only what this call needs,
	// rather than clear its three cache lines again.
	c := &inst.call
	c.ctx, c.f, c.model, c.inst, c.stdio, c.export, c.input = ctx, f, m, inst, inst.stdio, ExportPredict, input
	inst.stack[0] = uint64(len(input))
	trapped, err := h.invoke(c, inst.predict, inst.stack[:])
	out := c.out
	if err == nil {
		if code := int32(inst.stack[0]); code != 0 {
			err = guestError(c, code)
		}
	}
	c.end()
	// Drop the references to this call; inst is the next caller's from here.
	*c = call{}
	inst.gctx.Context, inst.gctx.c = nil, nil
	open := inst.exit() // closes inst if it was closed during the call
	switch {
	case trapped: // a trap, a stop (its guard fired: it cannot run another call) or a broken limit
		m.fail(err)
	case open:
		m.idle <- inst
	}
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// acquire takes an idle instance, builds one if the model may grow, or
// waits for one.
func (m *Model) acquire(ctx context.Context) (*instance, error) {
	for {
		if err := m.usable(); err != nil {
			return nil, err
		}
		select {
		case inst := <-m.idle:
			return inst, nil
		default:
		}
		m.mu.Lock()
		grow := m.closedBy == nil && !m.f.closed.Load() && len(m.all)+m.growing < m.size
		if grow {
			m.growing++
		}
		m.mu.Unlock()
		if grow {
			inst, err := m.grow(ctx)
			if err == nil {
				return inst, nil
			}
			// Growing failed (the factory was closed, the host is busy…):
			// wait for one of the instances the model has, if any.
			m.mu.Lock()
			others := len(m.all) > 0
			m.mu.Unlock()
			if !others {
				return nil, err
			}
		}
		select {
		case inst := <-m.idle:
			return inst, nil
		case <-m.closed:
			// usable says why, on the next turn.
		case <-ctx.Done():
			return nil, fmt.Errorf("host: factory %q: predict: waiting for one of the model's %d instances: %w",
				m.f.fullName, m.size, ctx.Err())
		}
	}
}

// grow builds one more instance for the caller. The caller counted it in
// growing.
func (m *Model) grow(ctx context.Context) (*instance, error) {
	m.mu.Lock()
	if len(m.all) > 0 {
		// The caller can wait for one of those: it must not wait for an
		// instance slot or the memory budget instead, which only a closed
		// instance frees, while its own model's instances come back idle.
		ctx = withoutWaiting(ctx)
	}
	m.mu.Unlock()
	inst, err := m.f.newInstance(ctx, m.config)
	m.mu.Lock()
	m.growing--
	if err != nil {
		m.mu.Unlock()
		return nil, fmt.Errorf("host: factory %q: build another instance of the model: %w", m.f.fullName, err)
	}
	if m.closedBy != nil || m.closedByOwner.Load() {
		why := m.usableLocked()
		m.mu.Unlock()
		// Never under m.mu: closing unmaps the memory and takes the host's
		// lock (lock order: no host or instance work under a model's lock).
		inst.close()
		return nil, why
	}
	m.all = append(m.all, inst)
	m.mu.Unlock()
	return inst, nil
}

// usable reports why the model cannot be called, if it cannot.
func (m *Model) usable() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.usableLocked()
}

func (m *Model) usableLocked() error {
	switch {
	case m.closedByOwner.Load():
		return fmt.Errorf("%w: factory %q: Close was called", ErrModelClosed, m.f.fullName)
	case m.closedBy != nil:
		return fmt.Errorf("%w: factory %q: closed after an earlier failure: %w", ErrModelClosed, m.f.fullName, m.closedBy)
	case m.f.h.closed.Load():
		return fmt.Errorf("%w: factory %q: %w", ErrModelClosed, m.f.fullName, ErrClosed)
	}
	return nil
}

// isClosed reports whether the model was closed, by its owner or a failure.
func (m *Model) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closedByOwner.Load() || m.closedBy != nil
}

// fail closes the model after err broke one of its instances: the
// instance's state may be inconsistent, and its siblings were built alike.
func (m *Model) fail(err error) {
	m.mu.Lock()
	if m.closedBy == nil {
		m.closedBy = err
	}
	m.mu.Unlock()
	m.closeAll(false)
}

// closeAll closes every instance; calls running on them stop. With
// recycle (a Close by the model's owner), the instances idle in the
// model's channel, which no Predict holds and none can take any more, go
// to the factory to be reset and reused if they may (recycle.go).
func (m *Model) closeAll(recycle bool) {
	m.mu.Lock()
	all := m.all
	m.all = nil
	m.mu.Unlock()
	m.closeOnce.Do(func() { close(m.closed) })
	var retired []*instance
	for recycle && len(retired) < len(all) {
		select {
		case inst := <-m.idle:
			retired = append(retired, inst)
			m.f.retire(inst)
			continue
		default:
		}
		break
	}
	for _, inst := range all {
		if !slices.Contains(retired, inst) {
			inst.close()
		}
	}
}

// Close discards the model's instances. A Predict running at the time is
// stopped and fails with [ErrModelClosed]. Close is idempotent and safe to
// call concurrently with Predict.
func (m *Model) Close(ctx context.Context) error {
	if !m.closedByOwner.CompareAndSwap(false, true) {
		return nil
	}
	m.closeAll(true)
	return nil
}
