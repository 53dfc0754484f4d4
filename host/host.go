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

	"github.com/wasmreg/wasmreg/di"
	"github.com/wasmreg/wasmreg/host/internal/budget"
	"github.com/wasmreg/wasmreg/host/internal/interrupt"
	"github.com/wasmreg/wasmreg/host/internal/snapshot"
	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
	"github.com/wasmreg/wasmreg/internal/safetext"
)

// Host loads factories and builds models in one wazero runtime.
//
// A Host is safe for concurrent use by multiple goroutines: Load, Build and
// Predict may all run at once, and none of them holds a lock while it
// compiles, instantiates or calls a guest.
type Host struct {
	cfg config
	// runtime compiles and runs every module. Guests stop themselves when
	// the host raises their stop flag (the interrupt rewrite), so it runs
	// without wazero's close-on-context-done, which would make compiled
	// code leave for Go at every loop.
	runtime wazero.Runtime
	// compileLocks keeps two compiles of the same bytes apart (wazero#2547).
	compileLocks compileLocks
	cache        wazero.CompilationCache // nil without WithCompilationCacheDir
	container    *di.Container
	// The capability values for types the container does not provide.
	clock     Clock
	artifacts Artifacts
	wasiFuncs map[string]signature
	closed    atomic.Bool

	// mu guards the closed check of Load against Close, so that Close
	// waits for compilations in flight (wazero cannot close a runtime
	// under a running compile), and the set of live instances; it is never
	// held during a compile or a call.
	mu       sync.Mutex
	compiles sync.WaitGroup // compilations in flight, abandoned ones included
	// compilesRunning counts them too, for the tests.
	compilesRunning atomic.Int64

	compileSem chan struct{}  // a token per compilation running
	instances  chan struct{}  // a token per live instance
	budget     *budget.Budget // the live instances' reservations of memory (budget.go)

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
	cfg.moduleLimits.TableSize = cfg.tableLimit
	if cfg.compileWorkers == 0 {
		cfg.compileWorkers = runtime.GOMAXPROCS(0)
	}
	return newHost(ctx, cfg, nil)
}

// newHost returns a host of cfg whose runtime also provides stubs (for a
// refused module's metadata, refused.go; nil for any other host).
func newHost(ctx context.Context, cfg config, stubs importStubs) (*Host, error) {
	h := &Host{cfg: cfg, container: cfg.container,
		compileSem: make(chan struct{}, cfg.compileWorkers), live: map[*instance]struct{}{},
		instances: make(chan struct{}, cfg.maxInstances), budget: budget.New(cfg.memoryBudget),
		clock: NewSystemClock(), artifacts: cfg.artifacts}
	if h.artifacts == nil {
		h.artifacts = ArtifactMap{}
	}
	if err := h.checkContainer(); err != nil {
		return nil, err
	}

	rc := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(uint32(cfg.memoryLimit / wasmPageSize)).
		WithCloseOnContextDone(false) // guests check their own stop flag
	if cfg.cacheDir != "" {
		if err := os.MkdirAll(cfg.cacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("host: compilation cache directory %q: %w", cfg.cacheDir, err)
		}
		if err := checkCacheDir(cfg.cacheDir); err != nil {
			return nil, err
		}
		cache, err := wazero.NewCompilationCacheWithDir(cfg.cacheDir)
		if err != nil {
			return nil, fmt.Errorf("host: compilation cache directory %q: %w", cfg.cacheDir, err)
		}
		h.cache = cache
		rc = rc.WithCompilationCache(cache)
	}
	var err error
	if h.runtime, err = h.newRuntime(ctx, rc, stubs); err != nil {
		_ = h.Close(ctx)
		return nil, err
	}
	h.wasiFuncs = map[string]signature{}
	for name, def := range h.runtime.Module(WASIModule).ExportedFunctionDefinitions() {
		h.wasiFuncs[name] = signature{params: def.ParamTypes(), results: def.ResultTypes()}
	}
	return h, nil
}

// newRuntime returns a runtime with the WASI and wasmreg host modules, and
// stubs in place of, or beside, their functions.
func (h *Host) newRuntime(ctx context.Context, rc wazero.RuntimeConfig, stubs importStubs) (wazero.Runtime, error) {
	r := wazero.NewRuntimeWithConfig(ctx, rc)
	if err := instantiateWASI(ctx, r, stubs[WASIModule]); err != nil {
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
	stubs[ImportModule].export(b)
	if _, err := b.Instantiate(ctx); err != nil {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("host: instantiate %s: %w", ImportModule, err)
	}
	if err := stubs.instantiateOthers(ctx, r); err != nil {
		_ = r.Close(ctx)
		return nil, err
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

// The host's own capability values, for the types its container does not
// provide: the host never writes into a container, which a caller may
// share between hosts (each with its own logger, seed and artifacts).
func (h *Host) defaultClock() Clock { return h.clock }

func (h *Host) defaultArtifacts() Artifacts { return h.artifacts }

// defaultRandom returns the call's random stream, made on first use: a
// request-scoped value, as the container's would be.
func (h *Host) defaultRandom(c *call) Random {
	if c.random == nil {
		if seed := h.cfg.randomSeed; seed != nil {
			c.random = NewChaCha8Random(*seed)
		} else {
			c.random = NewCryptoRandom()
		}
	}
	return c.random
}

func (h *Host) logger() *slog.Logger { return h.cfg.logger }

// guestLogger is the logger for guest output: the container's, if it
// provides one, else the host's.
func (h *Host) guestLogger(ctx context.Context) *slog.Logger {
	if !di.Provided[*slog.Logger](h.container) {
		return h.cfg.logger
	}
	if l, err := di.Resolve[*slog.Logger](ctx, h.container); err == nil && l != nil {
		return l
	}
	return h.cfg.logger
}

// Close closes the runtime: every factory and model of the host stops
// working, and calls running in guests are stopped. It is safe to call more
// than once and concurrently with other methods, which then fail with
// [ErrClosed] or [ErrModelClosed].
//
// Close closes every instance, and waits for the calls it stopped to leave
// their guests, which they do at the guest's next function entry or loop
// header, and for compiles in flight, which wazero cannot interrupt. It
// waits until ctx is done at most, and then reports what it left: on a
// host made [WithoutInterruption] nothing stops a call; the runtime is
// closed under such calls, and after compiles still running, once they
// end.
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
		for _, inst := range live {
			inst.close()
		}
		compiled := make(chan struct{})
		go func() {
			h.compiles.Wait()
			close(compiled)
		}()
		var errs []error
		select {
		case <-drained:
		case <-ctx.Done():
			h.mu.Lock()
			running := len(h.live)
			h.mu.Unlock()
			errs = append(errs, fmt.Errorf("%d instances still running a call: %w", running, ctx.Err()))
		}
		select {
		case <-compiled:
			errs = append(errs, h.closeRuntime(ctx))
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("compiles still running; the runtime is closed when they end: %w", ctx.Err()))
			go func() {
				<-compiled
				_ = h.closeRuntime(context.Background())
			}()
		}
		if err := errors.Join(errs...); err != nil {
			h.closeErr = fmt.Errorf("host: close: %w", err)
		}
	})
	return h.closeErr
}

// closeRuntime closes the runtime and the cache, once no compile runs.
func (h *Host) closeRuntime(ctx context.Context) error {
	var errs []error
	if h.runtime != nil {
		errs = append(errs, h.runtime.Close(ctx))
	}
	if h.cache != nil {
		errs = append(errs, h.cache.Close(ctx))
	}
	return errors.Join(errs...)
}

// Digest returns the lowercase hex sha256 of wasm, as sha256sum prints it.
func Digest(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return hex.EncodeToString(sum[:])
}

// Load checks a factory module's structure, compiles it, checks it against
// ABI v1 and the host's grants, reads its metadata and returns the factory.
// It reports every problem with the module's imports and exports at once,
// in a [*ModuleError], each naming the import or export and wrapping a
// sentinel such as [ErrMissingExport], [ErrUnknownImport],
// [ErrMistypedImport] or [ErrNotGranted]; then, if they are right, every
// problem of its metadata at once, in another, each naming the field and
// wrapping [ErrBadMetadata], [ErrUnknownCapability] or [ErrNotGranted]. A
// minimum memory over the limit is refused with the first set, before
// the metadata is read. [Host.Validate] lists both sets at once.
//
// Before wazero sees the module, Load reads it strictly and checks it
// against the host's structural limits ([WithModuleLimits]; a refusal wraps
// [ErrModuleLimit]), then rewrites it so that every function entry and loop
// header checks the call's stop flag (docs/ABI.md §2): a module the rewrite
// cannot instrument is refused with [ErrInvalidModule], unless the host was
// made [WithoutInterruption].
//
// wazero's compile cannot be interrupted, so Load stops waiting for it when
// ctx is done or the compile timeout passes ([WithCompileTimeout]); the
// abandoned compile, bounded by the structural limits, ends on its own. The
// instantiation that reads the metadata is bounded by ctx and the call
// timeout. Load is safe for concurrent use.
func (h *Host) Load(ctx context.Context, wasm []byte) (*Factory, error) {
	return h.load(ctx, wasm, false)
}

// load is Load; with readRefused, a module refused for its imports or
// exports has its metadata read too (Validate).
func (h *Host) load(ctx context.Context, wasm []byte, readRefused bool) (*Factory, error) {
	if len(wasm) > h.cfg.moduleSizeLimit {
		return nil, overLimit(&LimitError{Kind: ErrModuleTooLarge, Option: "WithModuleSizeLimit",
			Limit: int64(h.cfg.moduleSizeLimit), Got: int64(len(wasm)),
			Detail: fmt.Sprintf("module sha256:%s is %d bytes, the limit is %d", Digest(wasm)[:12], len(wasm), h.cfg.moduleSizeLimit)})
	}
	var (
		digest string
		p      prepared
		err    error
		cached bool // p comes from the load cache (loadcache.go)
	)
	if h.cfg.pinned != nil || h.loadCacheOn() {
		// The pins and the load cache's key need the digest first.
		digest = Digest(wasm)
		if h.cfg.pinned != nil && !h.cfg.pinned[digest] {
			pinned := make([]string, 0, len(h.cfg.pinned))
			for d := range h.cfg.pinned {
				pinned = append(pinned, d)
			}
			slices.Sort(pinned)
			return nil, fmt.Errorf("%w: module sha256 %s is not pinned (pinned: %s)", ErrDigestMismatch, digest, strings.Join(pinned, ", "))
		}
		if h.loadCacheOn() {
			p, cached = h.cachedPrepare(ctx, wasm, digest)
		}
		if !cached {
			p, err = h.prepare(wasm)
		}
	} else {
		// Nothing needs the digest before the compile: hash on another
		// core meanwhile (2 ms of a Go guest's 40 ms warm compile).
		digests := make(chan string, 1)
		go func() { digests <- Digest(wasm) }()
		p, err = h.prepare(wasm)
		digest = <-digests
	}
	var r *refusal
	if err != nil && readRefused && errors.As(err, &r) && r.stubs != nil {
		return nil, h.withRefusedMetadata(ctx, wasm, r, digest[:12])
	}
	if err != nil {
		return nil, named(err, digest[:12])
	}
	if err := ctx.Err(); err != nil { // the strict read and the rewrites take milliseconds a megabyte
		return nil, fmt.Errorf("host: load module sha256:%s: %w", digest[:12], err)
	}
	compiled, err := h.compile(ctx, p.wasm)
	if err != nil && p.snapshot != nil && !errors.Is(err, ErrClosed) && ctx.Err() == nil {
		// wazero refused the snapshot rewrite (a data.drop of a segment it
		// emptied, say): build every instance from scratch instead, checked
		// all the same.
		h.logger().LogAttrs(ctx, slog.LevelInfo, "module not snapshotted: wazero refused the snapshot rewrite",
			slog.String("module", "sha256:"+digest[:12]), slog.Any("error", err))
		if p, err = h.prepareWithout(wasm, true); err != nil {
			return nil, named(err, digest[:12])
		}
		cached = false // the entry, if any, is the snapshot rewrite's
		compiled, err = h.compile(ctx, p.wasm)
	}
	if err != nil {
		if errors.Is(err, ErrClosed) || errors.Is(err, ErrBusy) || errors.Is(err, ErrModuleLimit) || ctx.Err() != nil {
			return nil, fmt.Errorf("host: load module sha256:%s: %w", digest[:12], err)
		}
		err = safetext.Wrap(err, MaxErrorMessage) // wazero's text names imports and exports
		return nil, fmt.Errorf("%w: module sha256:%s: %w", ErrInvalidModule, digest[:12], err)
	}
	if !cached && h.loadCacheOn() {
		// What Load compiles for these inputs, the fallback included.
		h.storePrepared(ctx, wasm, digest, p)
	}
	f := &Factory{h: h, compiled: compiled, plan: p.snapshot, checks: p.checks, memory: p.memory, shape: p.shape, tableBytes: p.tables,
		digest: digest, size: len(wasm), fullName: "sha256:" + digest[:12], noRecycle: p.noRecycle}
	if err := f.load(ctx); err != nil {
		_ = compiled.Close(ctx)
		return nil, err
	}
	return f, nil
}

// prepared is a module ready to compile: the bytes to compile and what the
// rewrites that made them added.
type prepared struct {
	wasm     []byte
	snapshot *snapshot.Plan     // nil without the snapshot rewrite
	checks   *interrupt.Plan    // nil on a host made WithoutInterruption
	memory   wasmbin.MemoryType // the module's memory, as declared (Min 0 without one)
	shape    moduleShape
	tables   uint64 // host memory its tables may grow to
	// noRecycle says why a reset could not restore an instance of the
	// module, nil if it could (recycle.go).
	noRecycle error
}

// prepare reads wasm strictly, checks its structure and rewrites it.
func (h *Host) prepare(wasm []byte) (prepared, error) { return h.prepareWithout(wasm, false) }

func (h *Host) prepareWithout(wasm []byte, noSnapshot bool) (prepared, error) {
	m, err := wasmbin.Decode(wasm, h.cfg.moduleLimits)
	if err != nil {
		return prepared{}, moduleError(err)
	}
	// Every problem of the module's shape and memory at once: a factory
	// author fixes them in one go.
	shape, problems := h.checkShape(m)
	if h.cfg.shapeReported {
		problems = nil // a throw-away host's (refused.go): its parent reported them
	}
	shapeProblems := len(problems)
	p := prepared{wasm: wasm, shape: shape, tables: h.cfg.tableBytes(m), noRecycle: h.recyclable(m)}
	if len(m.Memories) > 0 {
		p.memory = m.Memories[0]
	} else {
		for _, imp := range m.Imports {
			if imp.Kind == wasmbin.KindMemory {
				p.memory = imp.Memory
			}
		}
	}
	if pages := uint64(p.memory.Min); pages*wasmPageSize > h.cfg.memoryLimit {
		problems = append(problems, overLimit(&LimitError{Kind: ErrMemoryLimit, Option: "WithMemoryLimit",
			Limit: int64(h.cfg.memoryLimit), Got: int64(pages * wasmPageSize),
			Detail: fmt.Sprintf("its memory needs at least %d pages (%d bytes), the limit is %d bytes", pages, pages*wasmPageSize, h.cfg.memoryLimit)}))
	}
	if len(problems) > 0 {
		r := &refusal{problems: problems}
		if len(problems) == shapeProblems { // a memory over the limit cannot be instantiated to ask
			r.stubs = h.importStubs(m, shape)
		}
		return prepared{}, r
	}
	// A guest that can observe randomness or time must run its own
	// _initialize: a snapshot would freeze what it saw there. A small
	// module instantiates fast enough without a snapshot, but recycling
	// one needs the snapshot's state to reset to.
	worthIt := len(wasm) >= snapshot.MinSize || h.cfg.recycle > 0
	if !noSnapshot && !h.cfg.noSnapshots && worthIt && !h.cfg.grants[CapRandom] && !h.cfg.grants[CapClock] {
		if rw, plan, err := snapshot.Rewrite(m); err == nil {
			// The interrupt rewrite reads the snapshot rewrite's output.
			if m, err = wasmbin.Decode(rw, h.cfg.moduleLimits); err != nil {
				return prepared{}, fmt.Errorf("host: the snapshot rewrite made a module its reader refuses: %w", err)
			}
			p.wasm, p.snapshot = rw, plan
		}
	}
	opts := interrupt.Options{StackLimit: h.cfg.stackLimit, TableLimit: h.cfg.tableLimit,
		HostPrefixes: []string{snapshot.GlobalPrefix}}
	if h.cfg.noInterrupt {
		p.wasm, err = interrupt.LimitTables(m, h.cfg.tableLimit)
	} else {
		p.wasm, p.checks, err = interrupt.Instrument(m, opts)
	}
	if err != nil {
		if errors.Is(err, interrupt.ErrTableLimit) {
			return prepared{}, refuse(ErrModuleLimit, &LimitError{Kind: ErrModuleLimit, Option: "WithTableLimit",
				Limit: int64(h.cfg.tableLimit), Detail: err.Error()})
		}
		return prepared{}, refuse(ErrInvalidModule, fmt.Errorf("the host cannot instrument it to stop its calls: %w", err))
	}
	if p.checks != nil {
		// The checks add blocks and calls that wazero compiles too: the
		// estimate that bounds the compile is the instrumented module's.
		if err := checkCompileCost(p.wasm, h.cfg.moduleLimits.CompileCost); err != nil {
			return prepared{}, err
		}
	}
	return p, nil
}

// checkCompileCost checks the estimate of wazero's compile time for wasm,
// the module as the host compiles it, against limit (0: none). It costs
// one more strict read, a few milliseconds a megabyte.
func checkCompileCost(wasm []byte, limit uint64) error {
	if limit == 0 {
		return nil
	}
	_, err := wasmbin.Decode(wasm, wasmbin.Limits{CompileCost: limit})
	var le *wasmbin.LimitError
	switch {
	case errors.As(err, &le):
		le.Where = "module with the host's interrupt checks"
		return moduleError(le)
	case err != nil:
		return fmt.Errorf("host: the interrupt rewrite made a module its reader refuses: %w", err)
	}
	return nil
}

// moduleError classifies an error of the strict reader. A refusal for a
// limit names the ModuleLimits field that raises it (the table size has
// an option of its own).
func moduleError(err error) error {
	err = safetext.Wrap(err, MaxErrorMessage) // it may quote the module's names
	var le *wasmbin.LimitError
	if errors.As(err, &le) {
		lim := &LimitError{Kind: ErrModuleLimit, Option: "WithModuleLimits", Field: le.Limit, Detail: err.Error()}
		if le.Limit == "TableSize" {
			lim.Option, lim.Field = "WithTableLimit", ""
		}
		return refuse(ErrModuleLimit, lim)
	}
	return refuse(ErrInvalidModule, err)
}

// refusal is why prepare refused a module: every problem found, each
// wrapping its sentinel. Load names the module in it (named).
type refusal struct {
	problems []error
	// stubs stand in for the imports the host does not provide as the
	// module declares them, if its metadata can be read in spite of its
	// problems (refused.go); nil if not.
	stubs importStubs
}

func refuse(kind, err error) *refusal {
	return &refusal{problems: []error{fmt.Errorf("%w: %w", kind, err)}}
}

func (r *refusal) Error() string { return errors.Join(r.problems...).Error() }

func (r *refusal) Unwrap() []error { return r.problems }

// named returns err, from prepare, naming the module: a *ModuleError for
// a refusal.
func named(err error, short string) error {
	var r *refusal
	if !errors.As(err, &r) {
		return fmt.Errorf("module sha256:%s: %w", short, err)
	}
	return &ModuleError{Module: "sha256:" + short, Problems: r.problems}
}

// compile compiles wasm on the host's runtime unless the host is closed.
// wazero's compile cannot be interrupted, so it runs on a goroutine of its
// own: the caller stops waiting when ctx is done or the compile timeout
// passes, and the abandoned compile, bounded by the structural limits,
// ends on its own, then releases its slot and closes what it compiled.
// Close waits for compiles in flight, until its own context is done.
func (h *Host) compile(ctx context.Context, wasm []byte) (wazero.CompiledModule, error) {
	h.mu.Lock()
	if h.closed.Load() {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	h.compiles.Add(1)
	h.mu.Unlock()
	select {
	case h.compileSem <- struct{}{}:
	case <-ctx.Done():
		h.compiles.Done()
		return nil, fmt.Errorf("%w: waiting for one of %d compilation slots (host.WithCompileConcurrency): %w",
			ErrBusy, cap(h.compileSem), ctx.Err())
	}
	type result struct {
		compiled wazero.CompiledModule
		err      error
	}
	const (
		running = iota
		delivered
		abandoned
	)
	var state atomic.Int32
	done := make(chan result, 1)
	h.compilesRunning.Add(1)
	go func() {
		defer h.compiles.Done()
		defer h.compilesRunning.Add(-1)
		compiled, err := h.compileNow(context.WithoutCancel(ctx), wasm)
		<-h.compileSem
		if !state.CompareAndSwap(running, delivered) {
			if compiled != nil {
				_ = compiled.Close(context.Background())
			}
			return
		}
		done <- result{compiled, err}
	}()
	var timeout <-chan time.Time
	if h.cfg.compileTimeout > 0 {
		t := time.NewTimer(h.cfg.compileTimeout)
		defer t.Stop()
		timeout = t.C
	}
	var why error
	select {
	case r := <-done:
		return r.compiled, r.err
	case <-ctx.Done():
		why = fmt.Errorf("compile abandoned: %w", ctx.Err())
	case <-timeout:
		why = overLimit(&LimitError{Kind: ErrModuleLimit, Option: "WithCompileTimeout", Limit: int64(h.cfg.compileTimeout),
			Detail: fmt.Sprintf("wazero's compile took longer than %s", h.cfg.compileTimeout)})
	}
	if !state.CompareAndSwap(running, abandoned) {
		r := <-done // it finished meanwhile
		return r.compiled, r.err
	}
	return nil, why
}

// compileNow runs wazero's compile.
func (h *Host) compileNow(ctx context.Context, wasm []byte) (compiled wazero.CompiledModule, err error) {
	// wazero panics on some invalid modules instead of refusing them
	// (testdata/hostile/compiler_crash.wasm): a module must not take the
	// host down.
	defer func() {
		if r := recover(); r != nil {
			compiled, err = nil, fmt.Errorf("wazero's compiler failed on it: %v", r)
		}
	}()
	defer h.compileLocks.lock(wasm)()
	return h.runtime.CompileModule(ctx, wasm)
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
			s.h.budget.Release(s.reserved)
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
	busy := &LimitError{Kind: ErrBusy, Option: "WithMaxInstances", Limit: int64(cap(h.instances)),
		Detail: fmt.Sprintf("factory %q: all %d instance slots are in use", factory, cap(h.instances)), Otherwise: "close models"}
	select {
	case h.instances <- struct{}{}:
		return &slot{h: h}, nil
	case <-ctx.Done():
		busy.Cause = ctx.Err()
	case <-timeout:
		busy.Detail += fmt.Sprintf(", waited %s", h.cfg.callTimeout)
	}
	return nil, overLimit(busy)
}
