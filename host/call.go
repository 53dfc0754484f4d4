package host

import (
	"context"
	"time"

	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/wasmreg/wasmreg/di"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmreg/wasmreg/host/internal/wazeroerr"
	"github.com/wasmreg/wasmreg/internal/safetext"
)

// call is the state of one guest call: instantiation (with its start
// functions and _initialize) or one export call. The host functions find it
// in their context with callFrom. A call is used by one goroutine: the one
// running the guest.
type call struct {
	ctx     context.Context // the caller's; for a build, one that closing the instance cancels
	reqCtx  context.Context // the request scope's, once begun
	scope   *di.Scope       // nil until a capability is resolved
	f       *Factory
	model   *Model      // nil during Load and Build
	inst    *instance   // the instance the call runs on, once instantiated
	stdio   *guestStdio // the instance's WASI output, nil without WASI
	export  string      // exportInstantiate during instantiation
	phase   string      // what runs during instantiation, for errors: phaseStart, ExportInitialize or ""
	input   []byte
	out     []byte
	errMsg  string
	stopErr error  // why the call was stopped, if it was
	random  Random // the host's default random stream, once used
	loading bool   // Load's call, which may take the factory's snapshot
	logs    int    // lines logged in this call
	dropped int    // lines dropped over the quota
}

type callKey struct{}

// request returns the context of the call's request scope, beginning the
// scope on first use: most calls resolve no capability, and a scope costs
// allocations. Either way each Build and each Predict is one scope.
func (c *call) request() context.Context {
	if c.scope == nil {
		c.reqCtx, c.scope = c.f.h.container.BeginRequest(c.ctx)
	}
	return c.reqCtx
}

// end ends the call's request scope, if it began one.
func (c *call) end() {
	if c.scope != nil {
		c.f.endScope(c.reqCtx, c.scope)
	}
}

// callCtx is the context wazero instantiates a module under.
type callCtx struct {
	context.Context
	c *call
}

// Value implements context.Context: the context answers callKey with its call.
func (x *callCtx) Value(key any) any {
	if key == (callKey{}) {
		return x.c
	}
	return x.Context.Value(key)
}

// instantiating returns the context wazero instantiates the module under,
// which carries the call for host functions a start function calls on a
// host made WithoutInterruption (otherwise the host calls start functions
// itself, through invoke).
func (c *call) instantiating() context.Context { return &callCtx{Context: c.ctx, c: c} }

func (c *call) inExport() bool { return c.export != exportInstantiate }

// running names what the call runs, for its errors: the export, or during
// instantiation the start function, _initialize or the instantiation.
func (c *call) running() string {
	switch {
	case c.inExport():
		return c.export
	case c.phase != "":
		return c.phase
	}
	return exportInstantiate
}

// callFrom returns the call that ctx carries, and aborts the guest at once
// if the call was stopped: a guest whose deadline passed gets nothing more
// from the host, whether or not it has reached its stop flag yet. Host
// functions are only ever called by guests running under a call, but fail
// cleanly if not.
func callFrom(ctx context.Context) *call {
	var c *call
	switch x := ctx.(type) {
	case *guardCtx:
		c = x.c
	case *callCtx:
		c = x.c
	default:
		var ok bool
		if c, ok = ctx.Value(callKey{}).(*call); !ok {
			panic(errors.New("host: guest called an import outside a host call"))
		}
	}
	if c.inst != nil && c.inst.guard.Fired() {
		hostPanic(errCallStopped)
	}
	// The caller's deadline, read from the clock: the guard learns of it
	// from a goroutine of the context's timer, which may not have run yet
	// (a collection waiting for a guest that cannot be preempted stops it).
	if d, ok := c.ctx.Deadline(); ok && c.inst != nil && !time.Now().Before(d) {
		c.stopErr = context.DeadlineExceeded
		hostPanic(errCallStopped)
	}
	return c
}

// errCallStopped aborts a guest that calls the host after its call was
// stopped; classify reports why it was stopped instead.
var errCallStopped = errors.New("host: the call was stopped")

// hostPanic aborts the guest with err; wazero turns it into a trap that the
// export call returns, wrapping err.
func hostPanic(err error) { panic(err) }

func (c *call) requireExport(imp string) {
	if !c.inExport() {
		hostPanic(fmt.Errorf("%w: %s called from a start function or _initialize", ErrOutsideCall, imp))
	}
}

func memoryOf(mod api.Module, imp string) api.Memory {
	mem := mod.Memory()
	if mem == nil {
		hostPanic(fmt.Errorf("%w: %s: the module has no memory", ErrOutOfBounds, imp))
	}
	return mem
}

// read returns a view of guest memory, or aborts the call.
func read(mod api.Module, imp string, ptr, n uint32) []byte {
	mem := memoryOf(mod, imp)
	b, ok := mem.Read(ptr, n)
	if !ok {
		hostPanic(fmt.Errorf("%w: %s: %d bytes at %d, memory is %d bytes", ErrOutOfBounds, imp, n, ptr, mem.Size()))
	}
	return b
}

func write(mod api.Module, imp string, ptr uint32, b []byte) {
	mem := memoryOf(mod, imp)
	if !mem.Write(ptr, b) {
		hostPanic(fmt.Errorf("%w: %s: %d bytes at %d, memory is %d bytes", ErrOutOfBounds, imp, len(b), ptr, mem.Size()))
	}
}

func (c *call) requireGrant(capability, imp string) {
	if !c.f.granted(capability) {
		hostPanic(fmt.Errorf("%w: import %s needs capability %q", ErrNotGranted, imp, capability))
	}
}

// invoke calls the export fn with the stack under c, bounded by the
// host's call timeout and c's context through the instance's guard, which
// raises the guest's stop flag when either fires, and turns every failure
// into a *CallError. A call whose guard fired fails even if the guest
// returned before it saw its flag. trapped reports whether the instance
// can no longer be used.
func (h *Host) invoke(c *call, fn api.Function, stack []uint64) (trapped bool, err error) {
	if err := c.ctx.Err(); err != nil {
		return false, c.notCalled(err)
	}
	inst := c.inst
	// The instance's reusable guard: no allocation for a call of a model.
	inst.guard.Arm(c.ctx, h.cfg.callTimeout)
	c.stdio.begin()
	x := &inst.gctx // x.g was set with the instance and never changes
	x.Context, x.c = c.ctx, c
	cerr := fn.CallWithStack(x, stack)
	if inst.guard.Disarm() {
		// The guard fired, or the caller's context was done as the call
		// ended: the call failed, whatever the guest did meanwhile.
		if c.stopErr = inst.guard.Reason(); c.stopErr == nil {
			c.stopErr = c.ctx.Err()
		}
		if cerr == nil {
			cerr = c.stopErr
		}
	}
	c.flushDropped()
	c.stdio.flush()
	if cerr != nil {
		return true, h.classify(c, cerr)
	}
	return false, nil
}

// notCalled is the error of a call not made because its context is done.
func (c *call) notCalled(err error) *CallError {
	ce := &CallError{Factory: c.f.fullName, Export: c.running(), Cause: err,
		Message: "not called: the caller's context is done"}
	switch {
	case c.f.h.closed.Load():
		ce.Kind, ce.Message = ErrClosed, "not called: the host was closed"
	case errors.Is(err, context.DeadlineExceeded):
		ce.Kind = ErrTimeout
	}
	return ce
}

// classify turns an error of wazero's into a *CallError.
func (h *Host) classify(c *call, err error) *CallError {
	ce := &CallError{Factory: c.f.fullName, Export: c.running(), Cause: err}
	// The guest was stopped by its stop flag, which the guard raised for
	// stopErr, or it exited (WASI proc_exit).
	var exit *sys.ExitError
	isExit := errors.As(err, &exit)
	stopped := c.stopErr != nil
	deadline := errors.Is(c.stopErr, context.DeadlineExceeded)
	canceled := stopped && !deadline
	switch {
	case deadline:
		ce.Kind = ErrTimeout
		ce.Limit = &LimitError{Kind: ErrTimeout, Option: "WithCallTimeout", Limit: int64(h.cfg.callTimeout),
			Detail: fmt.Sprintf("stopped at the time limit: the call timeout of %s or the caller's deadline passed", h.cfg.callTimeout), Otherwise: "give the call a later deadline"}
		ce.Message = ce.Limit.Error()
	case stopped && h.closed.Load():
		ce.Kind = ErrClosed
		ce.Message = "the host was closed during the call"
	case stopped && c.model != nil && c.model.isClosed():
		ce.Kind = ErrModelClosed
		ce.Message = "the model was closed during the call"
	case canceled:
		ce.Kind = context.Canceled
		ce.Message = "stopped: the caller's context was canceled"
	case isExit:
		ce.Kind = ErrTrap
		ce.Message = fmt.Sprintf("the module exited with code %d", exit.ExitCode())
		ce.Reason = c.trapReason()
	case c.inst != nil && c.inst.stackOverflowed():
		ce.Kind = ErrStackOverflow
		ce.Limit = &LimitError{Kind: ErrStackOverflow, Option: "WithStackLimit", Limit: int64(h.cfg.stackLimit),
			Detail: fmt.Sprintf("stack overflow: the guest's calls need more than the %d-byte call stack (deep or unbounded recursion)", h.cfg.stackLimit)}
		ce.Message = ce.Limit.Error()
	default:
		ce.Message = firstLine(err.Error())
		for _, kind := range []error{ErrOutputLimit, ErrOutOfBounds, ErrOutsideCall, ErrNotGranted, ErrMemoryLimit, ErrInputLimit, ErrClosed} {
			if errors.Is(err, kind) {
				ce.Kind = kind
				break
			}
		}
		switch ce.Kind {
		case nil:
			ce.Kind = ErrTrap
			ce.Reason = c.trapReason()
		case ErrOutsideCall:
			ce.Reason = c.trapReason() // error called in _initialize: its message
		}
	}
	return ce
}

// trapReason is the reason of the guest's trap: the message it set with
// error in this call, else what its stderr said in this call (the line a
// runtime's panic starts with, or the last lines), or "".
func (c *call) trapReason() string {
	if c.errMsg != "" {
		return safetext.Line(c.errMsg, MaxTrapReason)
	}
	return c.stdio.reason()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	s = wazeroerr.TrimRecovered(s)
	// A trap's text can carry names from the module (a start function's
	// exports, a host error naming an import).
	return safetext.Line(s, MaxErrorMessage)
}

// guestLog writes one guest line to the logger, counting it against the
// call's quota.
func (c *call) guestLog(ctx context.Context, logger *slog.Logger, level slog.Level, msg string, attrs ...slog.Attr) {
	if c.logs >= c.f.h.cfg.logLinesPerCall {
		c.dropped++
		return
	}
	c.logs++
	attrs = append(attrs, slog.String("factory", c.f.fullName), slog.String("export", c.running()))
	logger.LogAttrs(ctx, level, msg, attrs...)
}

func (c *call) flushDropped() {
	if c.dropped > 0 {
		c.f.h.logger().LogAttrs(c.ctx, slog.LevelWarn, "guest log lines dropped over the per-call quota",
			slog.String("factory", c.f.fullName), slog.String("export", c.running()),
			slog.Int("dropped", c.dropped), slog.Int("quota", c.f.h.cfg.logLinesPerCall))
		c.dropped = 0
	}
}
