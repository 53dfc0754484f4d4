package host

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmreg/wasmreg/di"
	"github.com/wasmreg/wasmreg/host/internal/guard"
	"github.com/wasmreg/wasmreg/host/internal/interrupt"
	"github.com/wasmreg/wasmreg/host/internal/linmem"
	"github.com/wasmreg/wasmreg/host/internal/snapshot"
	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
	"github.com/wasmreg/wasmreg/registry"
)

// Factory is a loaded factory module: compiled once, instantiated afresh
// for every model it builds. It implements [registry.Factory].
//
// A Factory is safe for concurrent use by multiple goroutines: concurrent
// Builds each get their own instance and share nothing but the compiled
// code.
type Factory struct {
	h        *Host
	compiled wazero.CompiledModule
	digest   string
	size     int
	fullName string // name@version, or sha256:… until the metadata is read
	info     registry.Info
	sig      *Signature         // the declared tensor signature, nil if none
	schema   *jsonschema.Schema // the compiled config_schema; nil without one or WithoutConfigValidation
	// validConfig is the last config that passed the schema (schema.go).
	validConfig atomic.Pointer[string]
	shape       moduleShape
	memory      wasmbin.MemoryType // the module's memory, as declared
	// tableBytes is the host memory its tables may grow to (budget.go).
	tableBytes uint64
	modCfg     wazero.ModuleConfig // immutable; copied per instance
	plan       *snapshot.Plan      // non-nil if compiled from the snapshot rewrite
	checks     *interrupt.Plan     // non-nil if compiled from the interrupt rewrite
	// snap is taken by load, before the factory is returned, and never
	// changed afterwards.
	snap   *snapshot.Snapshot
	closed atomic.Bool
	// Recycling (recycle.go): recycle keeps reset instances for the next
	// builds, nil if the factory does not recycle; noRecycle says why the
	// module cannot; kept and reused count for the tests.
	recycle      chan *instance
	noRecycle    error
	kept, reused atomic.Int64
	// reservation caches MemoryReservation (budget.go); 0 until computed.
	reservation atomic.Uint64
}

var _ registry.Factory = (*Factory)(nil)

// load checks the module's shape, then instantiates it once to read its
// ABI version and metadata.
func (f *Factory) load(ctx context.Context) error {
	h := f.h
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous, so that instances coexist
		WithStartFunctions(ExportInitialize)
	if f.plan != nil || f.checks != nil {
		// start runs the start function and _initialize, under the
		// instance's stop flag, or restores their result.
		cfg = cfg.WithStartFunctions()
	}
	// WASI's random_get and clocks are real only with the matching grant;
	// otherwise deterministic, as capabilities are deny-by-default. Either
	// source is cheap: wazero's default seeds a math/rand source per
	// instance, most of a small module's instantiation.
	if h.cfg.grants[CapRandom] {
		cfg = cfg.WithRandSource(crand.Reader)
	} else {
		cfg = cfg.WithRandSource(zeroReader{})
	}
	if h.cfg.grants[CapClock] {
		cfg = cfg.WithSysWalltime().WithSysNanotime()
	}
	f.modCfg = cfg

	c := &call{ctx: ctx, f: f, export: exportInstantiate, loading: true}
	defer c.end()
	inst, err := f.start(c)
	if err != nil {
		return err
	}
	defer inst.finish() // busy since start
	mod := inst.mod

	stack := make([]uint64, 1)
	if !f.shape.broken[ExportABIVersion] { // only a refused module's can be (refused.go)
		c.export = ExportABIVersion
		if _, err := h.invoke(c, mod.ExportedFunction(ExportABIVersion), stack); err != nil {
			return err
		}
		if v := int32(stack[0]); v != ABIVersion {
			return fmt.Errorf("%w: module %s: %s returned %d, this host speaks version %d",
				ErrABIVersion, f.fullName, ExportABIVersion, v, ABIVersion)
		}
	}

	c.export, stack[0] = ExportInfo, 0
	if _, err := h.invoke(c, mod.ExportedFunction(ExportInfo), stack); err != nil {
		return err
	}
	if code := int32(stack[0]); code != 0 {
		return guestError(c, code)
	}
	if err := f.parseMetadata(c.out); err != nil {
		return err
	}
	f.initRecycling(ctx, inst)
	return nil
}

// start makes a fresh anonymous instance under c, running its start
// functions and _initialize (or restoring their snapshot) within the call
// timeout. The instance holds one of the host's instance slots and its
// reservation of the memory budget, is tracked by the host and is busy:
// the caller ends with exit, or finish to close it. c's context becomes
// one that closing the instance cancels.
func (f *Factory) start(c *call) (*instance, error) {
	h := f.h
	if h.closed.Load() {
		return nil, fmt.Errorf("%w: factory %q", ErrClosed, f.fullName)
	}
	if f.closed.Load() {
		return nil, fmt.Errorf("%w: %q", ErrFactoryClosed, f.fullName)
	}
	if err := c.ctx.Err(); err != nil {
		return nil, c.notCalled(err)
	}
	s, err := h.admit(c.ctx, f)
	if err != nil {
		return nil, err
	}
	inst := &instance{h: h, slot: s, guard: guard.New()}
	inst.gctx.g = inst.guard
	c.ctx, inst.cancelBuild = context.WithCancel(c.ctx)
	inst.state.Store(instBusy)
	if !h.track(inst) {
		inst.finish()
		return nil, fmt.Errorf("%w: factory %q", ErrClosed, f.fullName)
	}
	cfg := f.modCfg
	if f.recycle != nil {
		inst.clock = newRecycleClock()
		cfg = cfg.WithWalltime(inst.clock.walltime, fakeRes).WithNanotime(inst.clock.nanotime, fakeRes)
	}
	if f.shape.usesWASI {
		c.stdio = newGuestStdio(f, h.cfg.stdioLimit)
		cfg = cfg.WithStdout(c.stdio.stdout).WithStderr(c.stdio.stderr)
		inst.stdio = c.stdio
	}
	ctx := c.instantiating()
	alloc := &linmem.Allocator{}
	if f.snap != nil {
		alloc.Image = f.snap.Image
	}
	ctx = experimental.WithMemoryAllocator(ctx, alloc)
	c.stdio.begin()
	mod, err := h.runtime.InstantiateModule(ctx, f.compiled, cfg)
	if err != nil && f.plan == nil && f.checks == nil {
		c.phase = f.startPhase() // wazero ran the start function and _initialize
	}
	inst.mod, inst.mem = mod, alloc.Mem
	c.inst = inst // every call of the build runs under the instance's guard
	if err == nil && f.checks != nil {
		flag, ok := mod.ExportedGlobal(f.checks.StopGlobal).(api.MutableGlobal)
		stack := mod.ExportedGlobal(f.checks.StackGlobal)
		if !ok || stack == nil {
			err = fmt.Errorf("host: factory %q: the interrupt rewrite's globals %s and %s are not exported", f.fullName, f.checks.StopGlobal, f.checks.StackGlobal)
		}
		inst.guard.SetFlag(flag)
		inst.stackBudget = stack
	}
	if err == nil {
		err = f.initialize(c, mod)
	}
	if err == nil && f.recycle != nil {
		err = f.prepareRecycling(inst)
	}
	c.flushDropped()
	c.stdio.flush()
	if err != nil {
		inst.finish()
		if h.closed.Load() {
			return nil, fmt.Errorf("%w: factory %q", ErrClosed, f.fullName)
		}
		if f.closed.Load() {
			return nil, fmt.Errorf("%w: %q", ErrFactoryClosed, f.fullName)
		}
		var ce *CallError
		if errors.As(err, &ce) { // from _initialize, already classified
			return nil, err
		}
		return nil, h.classify(c, err)
	}
	return inst, nil
}

func (f *Factory) endScope(ctx context.Context, scope *di.Scope) {
	if err := scope.End(ctx); err != nil {
		f.h.logger().LogAttrs(ctx, slog.LevelWarn, "request scope disposal failed",
			slog.String("factory", f.fullName), slog.Any("error", err))
	}
}

// startPhase names what failed when wazero itself ran the module's start
// function and _initialize (a module not rewritten), for the CallError:
// either, or instantiation if the module has neither.
func (f *Factory) startPhase() string {
	switch {
	case f.shape.start && f.shape.initialize:
		return phaseStart + " or " + ExportInitialize
	case f.shape.start:
		return phaseStart
	case f.shape.initialize:
		return ExportInitialize
	}
	return ""
}

func guestError(c *call, code int32) error {
	return &CallError{Factory: c.f.fullName, Export: c.running(), Code: code, Message: c.errMsg, Kind: ErrGuest}
}

func (f *Factory) granted(capability string) bool { return f.h.cfg.grants[capability] }

// Info returns the factory's metadata. Capabilities lists what the factory
// declares and what its imports need, sorted. Info is safe for concurrent
// use; the caller may modify the result.
func (f *Factory) Info() registry.Info {
	info := f.info
	info.Capabilities = slices.Clone(info.Capabilities)
	info.ConfigSchema = slices.Clone(info.ConfigSchema)
	return info
}

// Name returns the factory's full name, name@version.
func (f *Factory) Name() string { return f.fullName }

// Digest returns the lowercase hex sha256 of the module file.
func (f *Factory) Digest() string { return f.digest }

// Size returns the module file's size in bytes.
func (f *Factory) Size() int { return f.size }

// Imports returns the module's imported functions, in the module's order,
// each with the capability it needs. It is safe for concurrent use; the
// caller may modify the result.
func (f *Factory) Imports() []Import { return slices.Clone(f.shape.imports) }

// Exports returns the names of the module's exported functions, sorted.
func (f *Factory) Exports() []string { return slices.Clone(f.shape.exports) }

// Close releases the compiled code. Models already built keep working;
// later Builds fail with [ErrFactoryClosed]. It is safe to call more than
// once and concurrently with Build.
func (f *Factory) Close(ctx context.Context) error {
	if !f.closed.CompareAndSwap(false, true) {
		return nil
	}
	f.drainRecycled()
	if err := f.compiled.Close(ctx); err != nil {
		return fmt.Errorf("host: factory %q: close: %w", f.fullName, err)
	}
	return nil
}

// Build instantiates a fresh, private instance of the module, outside any
// lock, runs _initialize if exported, and calls wasmreg_build with config
// (JSON; empty means "{}"). The instance is the returned *Model. Any failure
// closes the instance and returns an error naming the factory and the
// export, a [*CallError] for a guest failure.
//
// The build runs in its own request scope of the host's container. Build is
// safe for concurrent use.
func (f *Factory) Build(ctx context.Context, config []byte) (registry.Model, error) {
	m, err := f.BuildModel(ctx, config)
	if err != nil {
		return nil, err // no typed nil in the interface
	}
	return m, nil
}

// BuildModel is Build returning the concrete *Model.
func (f *Factory) BuildModel(ctx context.Context, config []byte) (*Model, error) {
	h := f.h
	if len(config) == 0 {
		config = []byte("{}")
	}
	if len(config) > h.cfg.inputLimit {
		return nil, overLimit(&LimitError{Kind: ErrInputLimit, Option: "WithInputLimit",
			Limit: int64(h.cfg.inputLimit), Got: int64(len(config)),
			Detail: fmt.Sprintf("factory %q: config is %d bytes, the limit is %d", f.fullName, len(config), h.cfg.inputLimit)})
	}
	if err := f.validateConfig(config); err != nil {
		return nil, err
	}
	inst, err := f.newInstance(ctx, config)
	if err != nil {
		return nil, err
	}
	return newModel(f, config, inst), nil
}

// newInstance instantiates the module and calls wasmreg_build with config.
func (f *Factory) newInstance(ctx context.Context, config []byte) (*instance, error) {
	c := &call{ctx: ctx, f: f, export: exportInstantiate}
	inst, err := f.reuse(c) // a recycled instance, if the factory keeps one
	if inst == nil && err == nil {
		inst, err = f.start(c)
	}
	if err != nil {
		c.end()
		return nil, err
	}
	if testHookBuild != nil {
		testHookBuild(inst)
	}
	c.export, c.input = ExportBuild, config
	stack := []uint64{uint64(len(config))}
	if inst.build == nil {
		inst.build = inst.mod.ExportedFunction(ExportBuild)
	}
	_, err = f.h.invoke(c, inst.build, stack)
	if code := int32(stack[0]); err == nil && code != 0 {
		err = guestError(c, code)
	}
	c.end() // under the build's context, before it is canceled
	if err != nil {
		inst.finish()
		return nil, err
	}
	if inst.predict == nil {
		inst.predict = inst.mod.ExportedFunction(ExportPredict)
	}
	if !inst.exit() {
		return nil, fmt.Errorf("%w: factory %q: the host was closed during the build", ErrClosed, f.fullName)
	}
	inst.cancelBuild()
	return inst, nil
}

// testHookBuild, if set, runs before wasmreg_build on the instance, fresh
// or recycled: the isolation tests dump its state there.
var testHookBuild func(*instance)

// zeroReader is the WASI random source of a guest without the random
// capability: deterministic, like the fake clocks.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// initialize brings a fresh instance of a rewritten module to the state
// after its start function and _initialize, which wazero runs itself for a
// module as its author wrote it: from the snapshot; or by applying the data
// segments the snapshot rewrite took out (the first time, in load), running
// the start function the interrupt rewrite turned into an export, and
// _initialize, then, in Load only, taking the snapshot.
func (f *Factory) initialize(c *call, mod api.Module) error {
	if f.snap != nil {
		return restoreSnapshot(f.snap, f.plan, mod)
	}
	if f.plan == nil && f.checks == nil {
		return nil
	}
	if f.plan != nil {
		if err := f.plan.Apply(mod); err != nil {
			return err
		}
	}
	if f.checks != nil && f.checks.Start != "" {
		c.phase = phaseStart
		if _, err := f.h.invoke(c, mod.ExportedFunction(f.checks.Start), nil); err != nil {
			return err
		}
	}
	if init := mod.ExportedFunction(ExportInitialize); init != nil {
		c.phase = ExportInitialize
		if _, err := f.h.invoke(c, init, nil); err != nil {
			return err
		}
	}
	c.phase = ""
	if f.plan == nil || !c.loading {
		return nil
	}
	// Only Load writes f.snap, before the factory is returned. A snapshot
	// the host cannot take (no memfd here, say) is the host's failure, not
	// the guest's: every build then applies the data segments and runs
	// _initialize itself, as this one did.
	snap, err := f.plan.Take(mod)
	if err != nil {
		f.h.logger().LogAttrs(c.ctx, slog.LevelWarn, "factory not snapshotted: every build initialises it from scratch",
			slog.String("factory", f.fullName), slog.Any("error", err))
		return nil
	}
	f.snap = snap
	return nil
}
