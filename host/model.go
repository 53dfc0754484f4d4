package host

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmreg/wasmreg/registry"
)

// Model is a built model: one private instance of its factory's module.
// It implements [registry.Model].
//
// A Model is safe for concurrent use by multiple goroutines. Its calls are
// serialised on the instance (a guest instance runs one call at a time):
// a Predict waits for the one before it, and gives up with its context's
// error if that is done first. For parallel predictions, build several
// models with the same config.
//
// A trap, a timeout or a broken limit closes the instance: that Predict
// returns a [*CallError] and later ones fail with [ErrModelClosed].
type Model struct {
	f       *Factory
	mod     api.Module
	predict api.Function // looked up once: ExportedFunction costs µs and KiB
	stdio   *guestStdio  // the instance's WASI output, nil without WASI
	slot    *slot        // released when the instance is closed
	guard   *guard       // bounds each call in time

	// sem holds the right to call into the instance; it guards the fields
	// below it.
	sem      chan struct{}
	stack    [1]uint64
	closedBy error // why the instance was closed, nil while open

	closedByOwner atomic.Bool // set once by Close
}

var _ registry.Model = (*Model)(nil)

func newModel(f *Factory, mod api.Module, s *slot, stdio *guestStdio) *Model {
	return &Model{f: f, mod: mod, predict: mod.ExportedFunction(ExportPredict), slot: s, stdio: stdio, guard: newGuard(), sem: make(chan struct{}, 1)}
}

// Factory returns the factory that built the model.
func (m *Model) Factory() *Factory { return m.f }

// Predict calls the guest's wasmreg_predict with input and returns what the
// guest wrote with output. It runs in its own request scope of the host's
// container, bounded by ctx and the host's call timeout.
func (m *Model) Predict(ctx context.Context, input []byte) ([]byte, error) {
	f, h := m.f, m.f.h
	if len(input) > h.cfg.inputLimit {
		return nil, fmt.Errorf("%w: factory %q: request is %d bytes, the limit is %d (raise it with host.WithInputLimit)",
			ErrInputLimit, f.fullName, len(input), h.cfg.inputLimit)
	}
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("host: factory %q: predict: waiting for the model: %w", f.fullName, ctx.Err())
	}
	defer func() { <-m.sem }()
	if err := m.usable(); err != nil {
		return nil, err
	}

	c := &call{ctx: ctx, f: f, model: m, stdio: m.stdio, export: ExportPredict, input: input}
	defer c.end()
	m.stack[0] = uint64(len(input))
	if trapped, err := h.invoke(c, m.predict, m.stack[:]); err != nil {
		if trapped {
			m.closedBy = err
			_ = m.mod.Close(context.Background())
			m.slot.release()
		}
		return nil, err
	}
	if code := int32(m.stack[0]); code != 0 {
		return nil, guestError(c, code)
	}
	if c.out == nil {
		c.out = []byte{}
	}
	return c.out, nil
}

// usable reports why the model cannot be called, if it cannot. The caller
// holds sem.
func (m *Model) usable() error {
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

// Close discards the model's instance. A Predict running at the time is
// stopped and fails with [ErrModelClosed]. Close is idempotent and safe to
// call concurrently with Predict.
func (m *Model) Close(ctx context.Context) error {
	if !m.closedByOwner.CompareAndSwap(false, true) {
		return nil
	}
	defer m.slot.release()
	if err := m.mod.Close(ctx); err != nil {
		return fmt.Errorf("host: factory %q: close model: %w", m.f.fullName, err)
	}
	return nil
}
