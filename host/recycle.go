package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// Recycled sandboxes (see the package doc, "Recycling"): a model that
// closes cleanly hands its instance, reset to the state right after
// _initialize, to the next build of its factory instead of closing it.
//
// What an instance holds, and how a reset restores each:
//   - linear memory: the snapshot's image mapped again copy-on-write, the
//     pages grown past it dropped (linmem.Memory.Reset), and wazero's
//     length shrunk back to the image's (shrinkMemory);
//   - mutable globals: the module's own, all exported by the snapshot
//     rewrite, set to the snapshot's values; the interrupt rewrite's stop
//     flag and stack budget set to what they were after instantiation;
//   - tables and segments: never changed, because the module has no
//     instruction that changes them (wasmbin.Code.StateOps), and the host
//     changes none;
//   - WASI state: the clocks are the instance's own fake clocks
//     (recycleClock), rewound; the random source is stateless (no
//     random grant, or there is no snapshot); stdout and stderr are the
//     instance's guestStdio, its cap refilled; the open files (stdin,
//     stdout, stderr) only change through the WASI functions that are not
//     in wasiStateless, and a call of any of those marks the instance
//     tainted, never recycled;
//   - host-side state: the call record is zeroed after every call, each
//     call's request scope is its own and ended with the call, and the
//     guard must not have fired or been stopped.
//
// An instance that trapped, timed out, was stopped, was closed under a
// running call, called a tainting WASI function, or whose factory or host
// is closing is closed, never recycled.

// DefaultRecycling is how many reset instances a factory keeps for its
// next builds unless [WithRecycling] says otherwise.
const DefaultRecycling = 4

// wasiStateless are the WASI functions that change no per-instance state
// the host cannot reset, with the module configuration the host gives a
// snapshotted factory: no preopened directory, stdin at end of file,
// stdout and stderr the host's writers, a stateless random source and the
// instance's own fake clocks. proc_exit ends the instance (a trap). A
// call of any other WASI function taints the instance.
var wasiStateless = map[string]bool{
	"args_get": true, "args_sizes_get": true, "environ_get": true, "environ_sizes_get": true,
	"clock_res_get": true, "clock_time_get": true, "random_get": true, "sched_yield": true,
	"poll_oneoff": true, "proc_exit": true, "proc_raise": true,
	"fd_write": true, "fd_read": true, "fd_fdstat_get": true, "fd_filestat_get": true,
	"fd_prestat_get": true, "fd_prestat_dir_name": true,
}

// instantiateWASI instantiates wazero's WASI module, with every function
// that may change an instance's WASI state (not in wasiStateless) wrapped
// so that calling it marks the calling instance tainted.
func instantiateWASI(ctx context.Context, r wazero.Runtime) error {
	probe := r.NewHostModuleBuilder(WASIModule)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(probe)
	compiled, err := probe.Compile(ctx)
	if err != nil {
		return err
	}
	defer compiled.Close(ctx)
	b := r.NewHostModuleBuilder(WASIModule)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	for name, def := range compiled.ExportedFunctions() {
		if wasiStateless[name] {
			continue
		}
		fn, ok := def.GoFunction().(api.GoModuleFunction)
		if !ok {
			return fmt.Errorf("%s.%s is not a Go module function", WASIModule, name)
		}
		fb := b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			if c := callIn(ctx); c != nil && c.inst != nil {
				c.inst.tainted.Store(true)
			}
			fn.Call(ctx, mod, stack)
		}), def.ParamTypes(), def.ResultTypes()).WithName(def.Name())
		if names := def.ParamNames(); len(names) == len(def.ParamTypes()) {
			fb = fb.WithParameterNames(names...)
		}
		if names := def.ResultNames(); len(names) == len(def.ResultTypes()) {
			fb = fb.WithResultNames(names...)
		}
		fb.Export(name)
	}
	_, err = b.Instantiate(ctx)
	return err
}

// callIn returns the call ctx carries, or nil.
func callIn(ctx context.Context) *call {
	switch x := ctx.(type) {
	case *guardCtx:
		return x.c
	case *callCtx:
		return x.c
	}
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// recycleClock is an instance's fake WASI clocks, as wazero's own (a wall
// clock from midnight UTC 2022-01-01 and a monotonic clock from 0, each 1
// ms later at every reading), but rewound when the instance is recycled:
// a recycled instance must not see how often the previous model read them.
type recycleClock struct {
	wall, mono atomic.Int64 // the next reading, minus one step
}

const (
	fakeEpoch = 1640995200000 * 1e6 // wazero's FakeEpochNanos
	fakeStep  = 1e6                 // 1 ms a reading
	fakeRes   = sys.ClockResolution(1e3)
)

func newRecycleClock() *recycleClock {
	c := &recycleClock{}
	c.reset()
	return c
}

func (c *recycleClock) reset() {
	c.wall.Store(fakeEpoch - fakeStep)
	c.mono.Store(-fakeStep)
}

func (c *recycleClock) walltime() (int64, int32) {
	t := c.wall.Add(fakeStep)
	return t / 1e9, int32(t % 1e9)
}

func (c *recycleClock) nanotime() int64 { return c.mono.Add(fakeStep) }

// recyclable decides at Load whether the factory's instances may be
// recycled, and says why not in the log if the host would have: m is the
// module as its author wrote it, read by the strict reader.
func (h *Host) recyclable(m *wasmbin.Module) error {
	if fn, ok := m.StateOp(); ok {
		return fmt.Errorf("function[%d] has an instruction that changes a table or drops a segment, which a reset cannot undo", fn)
	}
	return nil
}

// errNotRecyclable is why an instance was closed rather than recycled.
var errNotRecyclable = errors.New("host: instance not recyclable")

// initRecycling makes f recycle its instances if the host and the module
// allow: called by load, once the snapshot is taken, with the instance
// load made.
func (f *Factory) initRecycling(ctx context.Context, inst *instance) {
	h := f.h
	why := f.noRecycle
	switch {
	case h.cfg.recycle == 0:
		return
	case why != nil:
	case f.snap == nil || f.plan == nil:
		why = errors.New("not snapshotted: only a snapshotted factory has the state a reset restores")
	case inst.mod.Memory() == nil || f.snap.Size() < wasmPageSize:
		why = errors.New("no memory image to reset to")
	default:
		why = checkShrinkable(inst.mod.Memory())
	}
	if why != nil {
		if f.snap != nil { // the factories recycling is for
			h.logger().LogAttrs(ctx, slog.LevelInfo, "factory's instances are not recycled",
				slog.String("factory", f.fullName), slog.Any("reason", why))
		}
		return
	}
	f.recycle = make(chan *instance, h.cfg.recycle)
}

// prepareRecycling gives a fresh instance of a recycling factory what a
// reset needs: called by start, after the instance's initialisation.
func (f *Factory) prepareRecycling(inst *instance) error {
	gs, err := f.plan.Globals(inst.mod)
	if err != nil {
		return err
	}
	inst.globals = gs
	if inst.guard != nil && f.checks != nil {
		flag, _ := inst.mod.ExportedGlobal(f.checks.StopGlobal).(api.MutableGlobal)
		stack, _ := inst.mod.ExportedGlobal(f.checks.StackGlobal).(api.MutableGlobal)
		if flag == nil || stack == nil {
			return fmt.Errorf("the interrupt rewrite's globals %s and %s are not mutable exports", f.checks.StopGlobal, f.checks.StackGlobal)
		}
		inst.flag, inst.flagInit = flag, flag.Get()
		inst.stackGlobal, inst.stackInit = stack, stack.Get()
	}
	inst.recyclable = true
	return nil
}

// retire ends an instance whose model was closed cleanly by its owner:
// it resets it and keeps it for the factory's next build if it may be
// recycled, and closes it otherwise. The caller took the instance from its
// model's idle channel, so no call runs on it and none will.
func (f *Factory) retire(inst *instance) {
	if f.recycle == nil || !inst.recyclable || !inst.enter() {
		inst.close()
		return
	}
	// inst is busy: only this goroutine uses it, and a Close of the host
	// meanwhile marks it for exit to finish.
	if err := f.reset(inst); err != nil {
		if testHookRecycle != nil {
			testHookRecycle(inst, err)
		}
		inst.finish()
		return
	}
	inst.slot.release() // a kept instance holds no slot nor budget: a build takes them anew
	inst.slot = nil
	if !inst.exit() {
		return // closed meanwhile, by the host's Close
	}
	if testHookRecycle != nil {
		testHookRecycle(inst, nil)
	}
	select {
	case f.recycle <- inst:
		f.kept.Add(1)
		if f.closed.Load() { // Close may have drained the channel already
			f.drainRecycled()
		}
	default:
		inst.close()
	}
}

// reset brings a busy instance back to the state right after _initialize,
// or says why it cannot.
func (f *Factory) reset(inst *instance) error {
	h := f.h
	switch {
	case h.closed.Load() || f.closed.Load():
		return fmt.Errorf("%w: the factory or the host is closing", errNotRecyclable)
	case inst.tainted.Load():
		return fmt.Errorf("%w: it called a WASI function that changes state the host does not reset", errNotRecyclable)
	case inst.guard.Fired() || inst.guard.Stopped():
		return fmt.Errorf("%w: its guard fired or was stopped", errNotRecyclable)
	case inst.stackGlobal != nil && inst.stackGlobal.Get() != inst.stackInit:
		return fmt.Errorf("%w: its stack budget is not back where it started", errNotRecyclable)
	case inst.flag != nil && inst.flag.Get() != inst.flagInit:
		return fmt.Errorf("%w: its stop flag is raised", errNotRecyclable)
	}
	size, err := inst.mem.Reset(f.snap.Image)
	if err != nil {
		return fmt.Errorf("%w: %w", errNotRecyclable, err)
	}
	if err := shrinkMemory(inst.mod.Memory(), uint32(size)); err != nil {
		return fmt.Errorf("%w: %w", errNotRecyclable, err)
	}
	f.snap.SetGlobals(inst.globals)
	inst.clock.reset()
	inst.stdio.reset(h.cfg.stdioLimit)
	return nil
}

// reuse takes a kept instance for a build under c, busy and holding a new
// slot as start's would; nil if there is none.
func (f *Factory) reuse(c *call) (*instance, error) {
	if f.recycle == nil || f.closed.Load() || f.h.closed.Load() || c.ctx.Err() != nil {
		return nil, nil // start says why, if it is closed or done
	}
	for {
		var inst *instance
		select {
		case inst = <-f.recycle:
			f.kept.Add(-1)
		default:
			return nil, nil
		}
		if !inst.enter() { // closed by the host's Close
			continue
		}
		s, err := f.h.admit(c.ctx, f)
		if err != nil {
			inst.finish()
			return nil, err
		}
		inst.slot = s
		c.ctx, inst.cancelBuild = context.WithCancel(c.ctx)
		c.inst, c.stdio = inst, inst.stdio
		f.reused.Add(1)
		return inst, nil
	}
}

// drainRecycled closes the kept instances: the factory is closed.
func (f *Factory) drainRecycled() {
	if f.recycle == nil {
		return
	}
	for {
		select {
		case inst := <-f.recycle:
			f.kept.Add(-1)
			inst.close()
		default:
			return
		}
	}
}

// testHookRecycle, if set, runs as retire recycles an instance (err nil)
// or refuses to (err why).
var testHookRecycle func(*instance, error)

// checkShrinkable reports whether shrinkMemory can work on mem: wazero
// has no API to shrink a memory, so the host sets the length of its
// buffer (an exported field of wazero's memory instance) and grows it by
// one page to make wazero tell its compiled code the new length.
func checkShrinkable(mem api.Memory) error {
	_, err := memoryBuffer(mem)
	return err
}

var bytesType = reflect.TypeFor[[]byte]()

// bufferFields caches, by wazero's memory type, the indexes of its Shared
// and Buffer fields, so that a reset does not look them up by name.
var bufferFields sync.Map // reflect.Type → [2]int

func memoryBuffer(mem api.Memory) (reflect.Value, error) {
	v := reflect.ValueOf(mem)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, fmt.Errorf("wazero's memory is a %s, not a pointer to a struct", v.Type())
	}
	e := v.Elem()
	if idx, ok := bufferFields.Load(v.Type()); ok {
		if e.Field(idx.([2]int)[0]).Bool() {
			return reflect.Value{}, errors.New("wazero's memory is shared")
		}
		return e.Field(idx.([2]int)[1]), nil
	}
	shared, ok := e.Type().FieldByName("Shared")
	if !ok || len(shared.Index) != 1 || shared.Type.Kind() != reflect.Bool || e.Field(shared.Index[0]).Bool() {
		return reflect.Value{}, errors.New("wazero's memory is shared, or has no Shared field")
	}
	buf, ok := e.Type().FieldByName("Buffer")
	if !ok || len(buf.Index) != 1 || buf.Type != bytesType || !e.Field(buf.Index[0]).CanSet() {
		return reflect.Value{}, errors.New("wazero's memory has no settable Buffer []byte field")
	}
	bufferFields.Store(v.Type(), [2]int{shared.Index[0], buf.Index[0]})
	return e.Field(buf.Index[0]), nil
}

// shrinkMemory makes mem, whose buffer the allocator has already brought
// back to its first size bytes, size bytes long again in wazero's eyes.
// No call may run on it.
func shrinkMemory(mem api.Memory, size uint32) error {
	buf, err := memoryBuffer(mem)
	if err != nil {
		return err
	}
	have := uint32(buf.Len())
	switch {
	case have == size:
		return nil
	case have < size || size < wasmPageSize || size%wasmPageSize != 0:
		return fmt.Errorf("cannot shrink a memory of %d bytes to %d", have, size)
	}
	buf.SetLen(int(size - wasmPageSize))
	if _, ok := mem.Grow(1); !ok || mem.Size() != size {
		return fmt.Errorf("shrinking the memory to %d bytes left it at %d", size, mem.Size())
	}
	return nil
}
