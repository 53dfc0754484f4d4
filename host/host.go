package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmreg/wasmreg/host/di"
)

// Host loads factories and builds models in one wazero runtime.
//
// A Host is safe for concurrent use by multiple goroutines: Load, Build and
// Predict may all run at once, and none of them holds a lock while it
// compiles, instantiates or calls a guest.
type Host struct {
	cfg     config
	runtime wazero.Runtime // with wazero's close-on-context-done, unless WithoutInterruption
	// checked runs the modules instrumentLoops rewrote, which check their
	// own stop flag: without close-on-context-done. nil WithoutInterruption.
	checked   wazero.Runtime
	cache     wazero.CompilationCache // nil without WithCompilationCacheDir
	container *di.Container
	wasiFuncs map[string]signature
	closed    atomic.Bool

	// mu guards the closed check of Load against Close, so that Close
	// waits for compilations in flight (wazero cannot close a runtime
	// under a running compile), and the set of live instances; it is never
	// held during a compile or a call.
	mu       sync.Mutex
	compiles sync.WaitGroup // compilations in flight

	compileSem chan struct{} // a token per compilation running
	instances  chan struct{} // a token per live instance
	budget     memBudget     // the live instances' reservations of memory (budget.go)

	live    map[*instance]struct{} // every open instance; guarded by mu
	drained chan struct{}          // closed when live empties after Close; guarded by mu

	closeOnce sync.Once
	closeErr  error
}

// New returns a Host configured by opts. Close it when done.
func New(ctx context.Context, opts ...Option) (*Host, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if cfg.container == nil {
		cfg.container = di.New()
	}
	if cfg.compileWorkers == 0 {
		cfg.compileWorkers = runtime.GOMAXPROCS(0)
	}
	h := &Host{cfg: cfg, container: cfg.container,
		compileSem: make(chan struct{}, cfg.compileWorkers), live: map[*instance]struct{}{},
		instances: make(chan struct{}, cfg.maxInstances), budget: memBudget{total: cfg.memoryBudget}}
	if err := h.checkContainer(); err != nil {
		return nil, err
	}

	rc := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(uint32(cfg.memoryLimit / wasmPageSize)).
		WithCloseOnContextDone(!cfg.noInterrupt) // the only way to stop a runaway guest
	if cfg.cacheDir != "" {
		if err := os.MkdirAll(cfg.cacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("host: compilation cache directory %q: %w", cfg.cacheDir, err)
		}
		cache, err := wazero.NewCompilationCacheWithDir(cfg.cacheDir)
		if err != nil {
			return nil, fmt.Errorf("host: compilation cache directory %q: %w", cfg.cacheDir, err)
		}
		h.cache = cache
		rc = rc.WithCompilationCache(cache)
	}
	var err error
	if h.runtime, err = h.newRuntime(ctx, rc); err != nil {
		_ = h.Close(ctx)
		return nil, err
	}
	if !cfg.noInterrupt {
		if h.checked, err = h.newRuntime(ctx, rc.WithCloseOnContextDone(false)); err != nil {
			_ = h.Close(ctx)
			return nil, err
		}
	}
	h.wasiFuncs = map[string]signature{}
	for name, def := range h.runtime.Module(WASIModule).ExportedFunctionDefinitions() {
		h.wasiFuncs[name] = signature{def.ParamTypes(), def.ResultTypes()}
	}
	// Last, so that a failed New leaves a caller's container untouched.
	if err := h.provideDefaults(); err != nil {
		_ = h.Close(ctx)
		return nil, err
	}
	return h, nil
}

// newRuntime returns a runtime with the WASI and wasmreg host modules.
func (h *Host) newRuntime(ctx context.Context, rc wazero.RuntimeConfig) (wazero.Runtime, error) {
	r := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("host: instantiate %s: %w", WASIModule, err)
	}
	b := r.NewHostModuleBuilder(ImportModule)
	for _, hi := range hostImports {
		fn := hi.fn
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
				fn(h, ctx, mod, stack)
			}), hi.sig.params, hi.sig.results).
			WithName(hi.name).
			Export(hi.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("host: instantiate %s: %w", ImportModule, err)
	}
	return r, nil
}

// checkContainer refuses options that the container would silently
// override because it already provides their type.
func (h *Host) checkContainer() error {
	c := h.container
	switch {
	case h.cfg.loggerSet && di.Provided[*slog.Logger](c):
		return invalid("WithLogger", "the container already provides *slog.Logger")
	case h.cfg.randomSeed != nil && di.Provided[Random](c):
		return invalid("WithRandomSeed", "the container already provides host.Random")
	case h.cfg.artifacts != nil && di.Provided[Artifacts](c):
		return invalid("WithArtifacts", "the container already provides host.Artifacts")
	}
	return nil
}

// provideDefaults gives the container a provider for every capability type
// it does not provide yet.
func (h *Host) provideDefaults() error {
	c := h.container
	var errs []error
	if !di.Provided[*slog.Logger](c) {
		errs = append(errs, di.ProvideValue(c, h.cfg.logger))
	}
	if !di.Provided[Clock](c) {
		errs = append(errs, di.ProvideValue[Clock](c, NewSystemClock()))
	}
	if !di.Provided[Random](c) {
		seed := h.cfg.randomSeed
		errs = append(errs, di.Provide(c, di.Request, func(context.Context) (Random, error) {
			if seed != nil {
				return NewChaCha8Random(*seed), nil
			}
			return NewCryptoRandom(), nil
		}))
	}
	if !di.Provided[Artifacts](c) {
		a := h.cfg.artifacts
		if a == nil {
			a = ArtifactMap{}
		}
		errs = append(errs, di.ProvideValue(c, a))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("host: provide default capabilities: %w", err)
	}
	return nil
}

func (h *Host) logger() *slog.Logger { return h.cfg.logger }

// guestLogger is the logger for guest output: the container's.
func (h *Host) guestLogger(ctx context.Context) *slog.Logger {
	if l, err := di.Resolve[*slog.Logger](ctx, h.container); err == nil && l != nil {
		return l
	}
	return h.cfg.logger
}

// Container returns the dependency-injection container the host resolves
// capabilities from.
func (h *Host) Container() *di.Container { return h.container }

// Grants returns the capabilities the host grants, sorted.
func (h *Host) Grants() []string {
	var out []string
	for _, c := range Capabilities() {
		if h.cfg.grants[c] {
			out = append(out, c)
		}
	}
	return out
}

// Close closes the runtime: every factory and model of the host stops
// working, and calls running in guests are stopped. It is safe to call more
// than once and concurrently with other methods, which then fail with
// [ErrClosed] or [ErrModelClosed].
//
// Close closes every instance, and waits for the calls it stopped to leave
// their guests, which they do at the guest's next loop or call. On a host
// made [WithoutInterruption] nothing stops a call, so Close waits for the
// running calls to end, until ctx is done; it then closes the runtime under
// them and reports it.
func (h *Host) Close(ctx context.Context) error {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closed.Store(true)
		live := make([]*instance, 0, len(h.live))
		for inst := range h.live {
			live = append(live, inst)
		}
		drained := make(chan struct{})
		if len(h.live) == 0 {
			close(drained)
		} else {
			h.drained = drained
		}
		h.mu.Unlock()
		h.compiles.Wait()
		for _, inst := range live {
			inst.close()
		}
		var errs []error
		select {
		case <-drained:
		case <-ctx.Done():
			h.mu.Lock()
			running := len(h.live)
			h.mu.Unlock()
			errs = append(errs, fmt.Errorf("%d instances still running a call: %w", running, ctx.Err()))
		}
		for _, r := range []wazero.Runtime{h.runtime, h.checked} {
			if r != nil {
				errs = append(errs, r.Close(ctx))
			}
		}
		if h.cache != nil {
			errs = append(errs, h.cache.Close(ctx))
		}
		if err := errors.Join(errs...); err != nil {
			h.closeErr = fmt.Errorf("host: close: %w", err)
		}
	})
	return h.closeErr
}

// Digest returns the lowercase hex sha256 of wasm, as sha256sum prints it.
func Digest(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return hex.EncodeToString(sum[:])
}

// Load compiles a factory module, checks it against ABI v1 and the host's
// grants, reads its metadata and returns the factory. It reports every
// problem with the module's imports and exports at once (joined), each
// naming the import or export and wrapping a sentinel such as
// [ErrMissingExport], [ErrUnknownImport] or [ErrNotGranted].
//
// Compilation ignores ctx (wazero compiles without interruption); the
// instantiation that reads the metadata is bounded by ctx and the call
// timeout. Load is safe for concurrent use.
func (h *Host) Load(ctx context.Context, wasm []byte) (*Factory, error) {
	if len(wasm) > h.cfg.moduleSizeLimit {
		return nil, fmt.Errorf("%w: module sha256:%s is %d bytes, the limit is %d (raise it with host.WithModuleSizeLimit)",
			ErrModuleTooLarge, Digest(wasm)[:12], len(wasm), h.cfg.moduleSizeLimit)
	}
	digests := make(chan string, 1)
	if h.cfg.pinned != nil {
		digest := Digest(wasm)
		if !h.cfg.pinned[digest] {
			pinned := make([]string, 0, len(h.cfg.pinned))
			for d := range h.cfg.pinned {
				pinned = append(pinned, d)
			}
			slices.Sort(pinned)
			return nil, fmt.Errorf("%w: module sha256 %s is not pinned (pinned: %s)", ErrDigestMismatch, digest, strings.Join(pinned, ", "))
		}
		digests <- digest
	} else {
		// Nothing needs the digest before the compile: hash on another
		// core meanwhile (2 ms of a Go guest's 40 ms warm compile).
		go func() { digests <- Digest(wasm) }()
	}
	rt, toCompile, plan, checks := h.runtime, wasm, (*snapshotPlan)(nil), (*interruptPlan)(nil)
	// A guest that checks its own stop flag runs without wazero's checks,
	// which leave compiled code for Go at every loop (interrupt.go); one
	// the rewrite does not handle keeps wazero's.
	if h.checked != nil {
		if rw, p, err := instrumentLoops(wasm); err == nil {
			rt, toCompile, checks = h.checked, rw, p
		}
	}
	// A guest that can observe randomness or time must run its own
	// _initialize: a snapshot would freeze what it saw there.
	if !h.cfg.noSnapshots && len(wasm) >= snapshotMinSize && !h.cfg.grants[CapRandom] && !h.cfg.grants[CapClock] {
		if rw, p, err := rewriteForSnapshot(toCompile); err == nil {
			toCompile, plan = rw, p
		}
	}
	compiled, err := h.compile(ctx, rt, toCompile)
	if err != nil && (plan != nil || checks != nil) && !errors.Is(err, ErrClosed) {
		// wazero refused a rewrite: run the module as it is.
		rt, plan, checks = h.runtime, nil, nil
		compiled, err = h.compile(ctx, rt, wasm)
	}
	digest := <-digests
	short := digest[:12]
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return nil, err
		}
		msg := err.Error()
		if strings.Contains(msg, "over limit of") && strings.Contains(msg, "pages") {
			return nil, fmt.Errorf("%w: module sha256:%s: %w (the limit is %d bytes; raise it with host.WithMemoryLimit)",
				ErrMemoryLimit, short, err, h.cfg.memoryLimit)
		}
		return nil, fmt.Errorf("%w: module sha256:%s: %w", ErrInvalidModule, short, err)
	}
	f := &Factory{h: h, rt: rt, compiled: compiled, plan: plan, checks: checks, digest: digest, size: len(wasm), fullName: "sha256:" + short}
	if err := f.load(ctx, wasm); err != nil {
		_ = compiled.Close(ctx)
		return nil, err
	}
	return f, nil
}

// compile compiles wasm unless the host is closed; Close waits for it.
func (h *Host) compile(ctx context.Context, rt wazero.Runtime, wasm []byte) (compiled wazero.CompiledModule, err error) {
	h.mu.Lock()
	if h.closed.Load() {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	h.compiles.Add(1)
	h.mu.Unlock()
	defer h.compiles.Done()
	select {
	case h.compileSem <- struct{}{}:
		defer func() { <-h.compileSem }()
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for one of %d compilation slots (host.WithCompileConcurrency): %w",
			ErrBusy, cap(h.compileSem), ctx.Err())
	}
	// wazero panics on some invalid modules instead of refusing them
	// (testdata/hostile/compiler_crash.wasm): a module must not take the
	// host down.
	defer func() {
		if r := recover(); r != nil {
			compiled, err = nil, fmt.Errorf("wazero's compiler failed on it: %v", r)
		}
	}()
	return rt.CompileModule(ctx, wasm)
}

// slot is one live instance's token and its reservation of the memory
// budget (admit, in budget.go); release returns both once.
type slot struct {
	h        *Host
	reserved uint64
	once     sync.Once
}

func (s *slot) release() {
	if s != nil {
		s.once.Do(func() {
			s.h.budget.release(s.reserved)
			<-s.h.instances
		})
	}
}

// acquire takes an instance slot, waiting until ctx is done or the call
// timeout passes.
func (h *Host) acquire(ctx context.Context, factory string) (*slot, error) {
	select {
	case h.instances <- struct{}{}:
		return &slot{h: h}, nil
	default:
	}
	var timeout <-chan time.Time
	if h.cfg.callTimeout > 0 {
		t := time.NewTimer(h.cfg.callTimeout)
		defer t.Stop()
		timeout = t.C
	}
	busy := fmt.Sprintf("factory %q: all %d instance slots are in use (raise it with host.WithMaxInstances, or close models)",
		factory, cap(h.instances))
	select {
	case h.instances <- struct{}{}:
		return &slot{h: h}, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %s: %w", ErrBusy, busy, ctx.Err())
	case <-timeout:
		return nil, fmt.Errorf("%w: %s, waited %s", ErrBusy, busy, h.cfg.callTimeout)
	}
}
