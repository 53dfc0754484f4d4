// Package serve serves wasmreg models over the Open Inference Protocol (OIP,
// KServe v2) REST API, so that clients written for KServe, Triton, Seldon
// MLServer and OpenVINO Model Server call wasmreg models unchanged.
//
// A [Server] holds models by name. [Server.Load] builds a model from a
// [host.Factory] and starts serving it, replacing atomically a model of the
// same name: requests in flight finish on the model they started on, new
// ones go to the new model, and the old one is closed once drained; a load
// that fails leaves the old model serving. [Server.Handler] is the REST API,
// to mount on the embedder's own http.Server. [Server.Shutdown] reports
// not-ready first, then drains, then closes every model.
//
// The generic tensor mapping (docs/SERVE.md) turns each row of an input
// tensor into one JSON request to the factory, so every factory that speaks
// the guest ABI v1 serves with no change.
//
// # Concurrency
//
// Every function of this package is safe for concurrent use, and every
// type's doc says whether its values are: a [Server] is; options, specs and
// isolations are plain values. A method is as safe as its type unless its
// doc says otherwise.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmreg/wasmreg/host"
)

// Sentinel errors of the package, checked with errors.Is. Errors returned
// by the Server wrap one of them and name the model and what was wrong.
var (
	// ErrInvalidOption reports an option given a bad value.
	ErrInvalidOption = errors.New("serve: invalid option")
	// ErrInvalidSpec reports a bad [ModelSpec].
	ErrInvalidSpec = errors.New("serve: invalid model spec")
	// ErrModelNotFound reports an unknown model or version.
	ErrModelNotFound = errors.New("serve: model not found")
	// ErrBadRequest reports a malformed or invalid inference request.
	ErrBadRequest = errors.New("serve: bad request")
	// ErrQueueFull reports a model whose bounded queue is full.
	ErrQueueFull = errors.New("serve: queue full")
	// ErrNotReady reports a server that is shutting down or closed.
	ErrNotReady = errors.New("serve: not ready")
	// ErrBadResponse reports a factory response that does not match the
	// outputs its signature declares (docs/SERVE.md); HTTP 500.
	ErrBadResponse = errors.New("serve: response does not match the model's signature")
)

// Isolation says how requests to a model share sandboxes. It is a plain
// value, safe for concurrent use.
type Isolation string

const (
	// IsolationModel serves from a pool of built instances (the default).
	IsolationModel Isolation = "model"
	// IsolationRequest builds a fresh sandbox for every request and closes
	// it after, for factories whose requests must never see each other's
	// state.
	IsolationRequest Isolation = "request"
)

// ModelSpec says what to serve under a name. It is a plain value; the
// Server copies what it needs, so a spec is safe for concurrent use as long
// as nobody modifies it.
type ModelSpec struct {
	// Name is the OIP model name: 1–128 characters of [A-Za-z0-9._-].
	Name string
	// Factory builds the model; it stays owned by the caller, who closes it
	// after the model is unloaded or replaced.
	Factory *host.Factory
	// Config is the factory's JSON configuration ("{}" if empty).
	Config []byte
	// Instances is the size of the pool in IsolationModel (default 1).
	Instances int
	// Isolation is IsolationModel (the default, "") or IsolationRequest.
	Isolation Isolation
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func (s ModelSpec) validate() error {
	switch {
	case !nameRE.MatchString(s.Name):
		return fmt.Errorf("%w: model name %q: want 1-128 characters of [A-Za-z0-9._-]", ErrInvalidSpec, s.Name)
	case s.Factory == nil:
		return fmt.Errorf("%w: model %q: no factory", ErrInvalidSpec, s.Name)
	case s.Instances < 0 || s.Instances > 1024:
		return fmt.Errorf("%w: model %q: instances %d, want 1-1024", ErrInvalidSpec, s.Name, s.Instances)
	case s.Isolation != "" && s.Isolation != IsolationModel && s.Isolation != IsolationRequest:
		return fmt.Errorf("%w: model %q: isolation %q, want %q or %q", ErrInvalidSpec, s.Name, s.Isolation, IsolationModel, IsolationRequest)
	}
	return nil
}

// Resolver finds the factory for a model the repository extension is asked
// to load by name. It must be safe for concurrent use.
type Resolver func(ctx context.Context, name string) (*host.Factory, error)

// Option configures a Server. Options are immutable and validated by New;
// one is safe for concurrent use and may configure many Servers.
type Option func(*config) error

type config struct {
	bodyLimit      int64
	requestTimeout time.Duration
	concurrency    int
	queue          int
	logger         *slog.Logger
	adminToken     string
	resolver       Resolver
	registerer     prometheus.Registerer // nil: the Server's own registry
	readyCheck     func() bool
	release        func(ModelSpec)
}

func invalid(option, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidOption, option, fmt.Sprintf(format, args...))
}

// WithBodyLimit bounds a request body (default 16 MiB); a larger one gets 413.
func WithBodyLimit(bytes int64) Option {
	return func(c *config) error {
		if bytes < 1 {
			return invalid("WithBodyLimit", "%d is not positive", bytes)
		}
		c.bodyLimit = bytes
		return nil
	}
}

// WithRequestTimeout bounds each inference request (default 30 s); a
// client's shorter deadline wins. Past it the request gets 504.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalid("WithRequestTimeout", "%v is not positive", d)
		}
		c.requestTimeout = d
		return nil
	}
}

// WithConcurrency bounds the inference requests one model runs at once
// (default 64) and how many more may wait for a slot (default 256); a
// request past both gets 429.
func WithConcurrency(running, queued int) Option {
	return func(c *config) error {
		if running < 1 || queued < 0 {
			return invalid("WithConcurrency", "running %d, queued %d: want running ≥ 1 and queued ≥ 0", running, queued)
		}
		c.concurrency, c.queue = running, queued
		return nil
	}
}

// WithLogger sets the logger of access logs and server events (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return invalid("WithLogger", "nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithRepository enables the model repository extension (index, load,
// unload), which is off by default because loading runs code on the server.
// Every call must carry "Authorization: Bearer TOKEN"; token must be at
// least 16 bytes. resolver finds the factory for a name being loaded.
func WithRepository(token string, resolver Resolver) Option {
	return func(c *config) error {
		if len(token) < 16 {
			return invalid("WithRepository", "the token is %d bytes, want at least 16", len(token))
		}
		if resolver == nil {
			return invalid("WithRepository", "nil resolver")
		}
		c.adminToken, c.resolver = token, resolver
		return nil
	}
}

// WithReadyCheck adds a condition to readiness: [Server.Ready], and so
// /readyz, /v2/health/ready, ServerReady and the gRPC health service, are
// false while ready returns false, such as until the embedder has loaded
// every model it configured. ready must be safe for concurrent use and
// fast: it runs on every readiness probe.
func WithReadyCheck(ready func() bool) Option {
	return func(c *config) error {
		if ready == nil {
			return invalid("WithReadyCheck", "nil function")
		}
		c.readyCheck = ready
		return nil
	}
}

// WithRelease sets the function the Server calls once it no longer uses
// the factory of a spec given to [Server.Load], so that the embedder can
// close it: at once when Load fails, or, when the model is replaced,
// unloaded or shut down, after its last request has finished and its
// instances are closed. It is called once per Load, from the goroutine of
// the Load, the last request or the unload; it must be safe for concurrent
// use. A model whose drain Shutdown gave up on is released when its last
// request ends, if ever: the embedder closes what is left after Shutdown
// returns, and ignores a release that comes later.
func WithRelease(release func(ModelSpec)) Option {
	return func(c *config) error {
		if release == nil {
			return invalid("WithRelease", "nil function")
		}
		c.release = release
		return nil
	}
}

// Server serves models over OIP. It is safe for concurrent use by multiple
// goroutines: Load, Unload and Shutdown may run while requests are served.
type Server struct {
	cfg config

	mu     sync.RWMutex // guards models
	models map[string]*served

	// Loads and unloads of one name take turns (lockName), so that two
	// replaces of a name cannot interleave their builds' outcomes; those of
	// other names go on meanwhile, so a slow or hanging build blocks only
	// its own name. No request ever waits on these locks.
	namesMu sync.Mutex           // guards names
	names   map[string]*nameLock // the names being loaded or unloaded

	shutting atomic.Bool

	metrics *metrics
}

// New returns a Server with no models, or an error naming a bad option. It
// is safe for concurrent use.
func New(opts ...Option) (*Server, error) {
	cfg := config{bodyLimit: 16 << 20, requestTimeout: 30 * time.Second, concurrency: 64, queue: 256, logger: slog.Default()}
	for _, o := range opts {
		if o == nil {
			return nil, invalid("New", "nil option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	s := &Server{cfg: cfg, models: map[string]*served{}, names: map[string]*nameLock{}}
	var err error
	if s.metrics, err = newMetrics(s, cfg.registerer); err != nil {
		return nil, err
	}
	return s, nil
}

// Load builds the model spec describes and serves it under spec.Name,
// replacing atomically a model of that name. On failure the old model, if
// any, keeps serving, and the error says why. Load is safe for concurrent
// use; loads of one name take turns.
func (s *Server) Load(ctx context.Context, spec ModelSpec) error {
	err := s.load(ctx, spec)
	if err != nil && s.cfg.release != nil && spec.Factory != nil {
		s.cfg.release(spec)
	}
	return err
}

func (s *Server) load(ctx context.Context, spec ModelSpec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	if s.shutting.Load() {
		return fmt.Errorf("%w: model %q: the server is shutting down", ErrNotReady, spec.Name)
	}
	defer s.lockName(spec.Name)()
	version := labelVersion(spec.Factory.Info().Version)
	m, err := newServed(ctx, spec, s.cfg, s.metrics.forModel(spec.Name, version))
	if err != nil {
		s.metrics.loadFailed(s.servedMetrics(spec.Name), spec.Name, version)
		return fmt.Errorf("serve: load model %q: %w", spec.Name, err)
	}
	s.mu.Lock()
	old := s.models[spec.Name]
	s.models[spec.Name] = m
	s.mu.Unlock()
	s.metrics.loaded(old, version)
	if old != nil {
		old.retire()
	}
	s.cfg.logger.Info("serve: model loaded", "model", spec.Name, "factory", spec.Factory.Name(), "replaced", old != nil)
	return nil
}

// Unload stops serving the model name: new requests get 404, requests in
// flight finish, then the model is closed. It waits for that drain up to
// ctx. Unload is safe for concurrent use.
func (s *Server) Unload(ctx context.Context, name string) error {
	unlock := s.lockName(name)
	s.mu.Lock()
	m := s.models[name]
	delete(s.models, name)
	s.mu.Unlock()
	if m != nil {
		s.metrics.unloaded(name)
	}
	unlock()
	if m == nil {
		return fmt.Errorf("%w: model %q", ErrModelNotFound, name)
	}
	m.retire()
	return m.waitClosed(ctx)
}

// nameLock makes the loads and unloads of one name take turns.
type nameLock struct {
	mu    sync.Mutex
	users int // holders and waiters; guarded by Server.namesMu
}

// lockName waits for the loads and unloads of name before it and returns
// the unlock; the lock is forgotten once nobody holds or waits for it.
func (s *Server) lockName(name string) (unlock func()) {
	s.namesMu.Lock()
	l := s.names[name]
	if l == nil {
		l = &nameLock{}
		s.names[name] = l
	}
	l.users++
	s.namesMu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		s.namesMu.Lock()
		if l.users--; l.users == 0 {
			delete(s.names, name)
		}
		s.namesMu.Unlock()
	}
}

// Models returns the names of the models served, sorted. It is safe for
// concurrent use.
func (s *Server) Models() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.models))
	for n := range s.models {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Ready reports whether the server accepts inference requests: not
// shutting down, and the condition of [WithReadyCheck] holds. It is safe
// for concurrent use.
func (s *Server) Ready() bool {
	return !s.shutting.Load() && (s.cfg.readyCheck == nil || s.cfg.readyCheck())
}

// Shutdown reports not-ready at once (so load balancers stop sending),
// refuses new inference requests with 503, waits up to ctx for requests in
// flight, then closes every model. It returns ctx's error if the drain did
// not finish; the models are closed either way. It is safe for concurrent
// use and idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	s.mu.Lock()
	models := s.models
	s.models = map[string]*served{}
	s.mu.Unlock()
	var errs []error
	for _, m := range models {
		m.retire()
	}
	for _, m := range models {
		if err := m.waitClosed(ctx); err != nil {
			m.forceClose()
			errs = append(errs, fmt.Errorf("serve: drain model %q: %w", m.spec.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Close is Shutdown without waiting: in-flight requests fail. It is safe
// for concurrent use.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Shutdown(ctx)
	return nil
}

// acquire returns the model name, referenced; the caller must release it.
func (s *Server) acquire(name string) (*served, error) {
	if s.shutting.Load() {
		return nil, fmt.Errorf("%w: model %q: the server is shutting down", ErrNotReady, name)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.models[name]
	if m != nil && m.ref() {
		return m, nil
	}
	switch {
	case s.shutting.Load(): // Shutdown emptied the table since the check above
		return nil, fmt.Errorf("%w: model %q: the server is shutting down", ErrNotReady, name)
	case s.cfg.readyCheck != nil && !s.cfg.readyCheck():
		// Still loading its models (or draining): the model may be one of
		// them, and a load balancer that has not yet seen the server
		// unready must be told to try another replica, not that the model
		// does not exist.
		return nil, fmt.Errorf("%w: model %q: the server is not ready", ErrNotReady, name)
	}
	return nil, fmt.Errorf("%w: model %q", ErrModelNotFound, name)
}
