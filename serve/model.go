package serve

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmreg/wasmreg/host"
)

// served is one loaded model: its pool, its admission control and its
// reference count, so that a retired model is closed once drained.
type served struct {
	spec ModelSpec
	cfg  config
	sig  host.Signature // the factory's declared signature; empty lists if none
	met  *modelMetrics

	slots chan struct{} // a token per running request
	// waiting counts requests queued for a slot; bounded by cfg.queue.
	waiting chan struct{}

	pool chan *host.Model // idle pooled models (IsolationModel)
	// sandboxes counts the request sandboxes alive (IsolationRequest).
	sandboxes atomic.Int64

	// rebuilds counts rebuilds running, which use the factory: the model
	// is released only after them.
	rebuilds sync.WaitGroup

	mu      sync.Mutex // guards the fields below
	refs    int
	retired bool
	closed  chan struct{} // closed once retired and drained, models closed
	live    []*host.Model // every pooled model not yet closed
}

func newServed(ctx context.Context, spec ModelSpec, cfg config, met *modelMetrics) (*served, error) {
	if spec.Instances == 0 {
		spec.Instances = 1
	}
	if spec.Isolation == "" {
		spec.Isolation = IsolationModel
	}
	spec.Config = append([]byte(nil), spec.Config...)
	sig, _ := spec.Factory.Signature()
	m := &served{spec: spec, cfg: cfg, sig: sig, met: met,
		slots: make(chan struct{}, cfg.concurrency), waiting: make(chan struct{}, cfg.queue),
		pool: make(chan *host.Model, spec.Instances), closed: make(chan struct{})}
	n := spec.Instances
	if spec.Isolation == IsolationRequest {
		n = 1 // build one to check the config, then close it
	}
	for range n {
		hm, err := m.timeBuild(func() (*host.Model, error) { return spec.Factory.BuildModel(ctx, spec.Config) })
		if err != nil {
			m.closeLive(context.Background())
			return nil, err
		}
		m.live = append(m.live, hm)
	}
	if spec.Isolation == IsolationRequest {
		m.closeLive(context.Background())
		m.live = nil
	}
	for _, hm := range m.live {
		m.pool <- hm
	}
	return m, nil
}

func (m *served) closeLive(ctx context.Context) {
	for _, hm := range m.live {
		_ = hm.Close(ctx)
	}
}

// ref takes a reference unless the model is retired.
func (m *served) ref() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.retired {
		return false
	}
	m.refs++
	return true
}

func (m *served) unref() {
	m.mu.Lock()
	m.refs--
	last := m.retired && m.refs == 0
	m.mu.Unlock()
	if last {
		m.finish()
	}
}

// retire stops new references; the model closes when the last one goes.
func (m *served) retire() {
	m.mu.Lock()
	if m.retired {
		m.mu.Unlock()
		return
	}
	m.retired = true
	last := m.refs == 0
	m.mu.Unlock()
	if last {
		m.finish()
	}
}

func (m *served) finish() {
	m.mu.Lock()
	live := m.live
	m.live = nil
	m.mu.Unlock()
	for _, hm := range live {
		_ = hm.Close(context.Background())
	}
	m.rebuilds.Wait()
	if m.cfg.release != nil {
		m.cfg.release(m.spec)
	}
	close(m.closed)
}

// forceClose closes the pooled models while requests may still run on
// them: they fail with host.ErrModelClosed.
func (m *served) forceClose() {
	m.mu.Lock()
	live := m.live
	m.mu.Unlock()
	for _, hm := range live {
		_ = hm.Close(context.Background())
	}
}

func (m *served) waitClosed(ctx context.Context) error {
	select {
	case <-m.closed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// admit takes a running slot, waiting in the bounded queue if need be.
func (m *served) admit(ctx context.Context) (release func(), err error) {
	start := time.Now()
	select {
	case m.slots <- struct{}{}:
		m.met.queueWait.Observe(time.Since(start).Seconds())
		return func() { <-m.slots }, nil
	default:
	}
	select {
	case m.waiting <- struct{}{}:
	default:
		return nil, fmt.Errorf("%w: model %q: %d requests running and %d queued", ErrQueueFull, m.spec.Name, cap(m.slots), cap(m.waiting))
	}
	defer func() { <-m.waiting }()
	defer func() { m.met.queueWait.Observe(time.Since(start).Seconds()) }()
	select {
	case m.slots <- struct{}{}:
		return func() { <-m.slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("model %q: waiting for a slot: %w", m.spec.Name, ctx.Err())
	}
}

// predict runs one request on a pooled model, or on a fresh sandbox in
// IsolationRequest. A pooled model that a trap or timeout closed is
// replaced by a fresh build, so the model keeps serving.
func (m *served) predict(ctx context.Context, input []byte) ([]byte, error) {
	if m.spec.Isolation == IsolationRequest {
		m.sandboxes.Add(1)
		defer m.sandboxes.Add(-1)
		hm, err := m.timeBuild(func() (*host.Model, error) { return m.spec.Factory.BuildModel(ctx, m.spec.Config) })
		if err != nil {
			return nil, err
		}
		defer hm.Close(context.Background())
		out, err := hm.Predict(ctx, input)
		m.met.guestError(err)
		return out, err
	}
	var hm *host.Model
	start := time.Now()
	select {
	case hm = <-m.pool:
		m.met.instanceWait.Observe(time.Since(start).Seconds())
	case <-ctx.Done():
		m.met.instanceWait.Observe(time.Since(start).Seconds())
		return nil, fmt.Errorf("model %q: waiting for an instance: %w", m.spec.Name, ctx.Err())
	}
	out, err := hm.Predict(ctx, input)
	m.met.guestError(err)
	if broken(err) {
		m.rebuilds.Add(1)
		go m.rebuild(hm)
		return nil, err
	}
	m.pool <- hm
	return out, err
}

// broken reports whether err closed the host model: a trap, a timeout or
// a broken limit does (host.Model's doc); a guest's error return does not.
func broken(err error) bool {
	var ce *host.CallError
	if errors.As(err, &ce) {
		return !errors.Is(ce.Kind, host.ErrGuest)
	}
	return errors.Is(err, host.ErrModelClosed)
}

// rebuild replaces a pooled model that failed with a fresh build.
func (m *served) rebuild(old *host.Model) {
	defer m.rebuilds.Done()
	_ = old.Close(context.Background())
	hm, err := m.timeBuild(func() (*host.Model, error) { return m.spec.Factory.BuildModel(context.Background(), m.spec.Config) })
	m.mu.Lock()
	for i, x := range m.live {
		if x == old {
			m.live = append(m.live[:i], m.live[i+1:]...)
			break
		}
	}
	if err == nil && !m.retired {
		m.live = append(m.live, hm)
	}
	retired := m.retired
	m.mu.Unlock()
	if err != nil {
		m.cfg.logger.Error("serve: rebuilding a failed instance", "model", m.spec.Name, "err", err)
		return
	}
	if retired {
		_ = hm.Close(context.Background())
		return
	}
	m.pool <- hm
}

// instanceCounts returns the instances built and not closed, and those
// idle in the pool, for the instance gauges.
func (m *served) instanceCounts() (live, idle int) {
	m.mu.Lock()
	live = len(m.live)
	m.mu.Unlock()
	return live + int(m.sandboxes.Load()), len(m.pool)
}
