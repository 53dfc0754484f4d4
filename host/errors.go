package host

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors returned (wrapped) by this package. Check them with
// [errors.Is].
var (
	// ErrInvalidModule means the bytes are not a WebAssembly module wazero
	// can compile, or the module does not follow the ABI's structure.
	ErrInvalidModule = errors.New("host: invalid module")
	// ErrModuleLimit means the module's structure is over one of the host's
	// limits (see [WithModuleLimits], [WithTableLimit]), or wazero took
	// longer to compile it than [WithCompileTimeout] allows.
	ErrModuleLimit = errors.New("host: module over a structural limit")
	// ErrModuleTooLarge means the module file is over the size limit.
	ErrModuleTooLarge = errors.New("host: module too large")
	// ErrABIVersion means wasmreg_abi_version returned a version this host
	// does not speak.
	ErrABIVersion = errors.New("host: unsupported abi version")
	// ErrMissingExport means a required export is absent or has the wrong type.
	ErrMissingExport = errors.New("host: missing or mistyped export")
	// ErrUnknownImport means the module imports something the host does not
	// provide.
	ErrUnknownImport = errors.New("host: unknown import")
	// ErrMistypedImport means the module imports a function the host
	// provides, but with another type.
	ErrMistypedImport = errors.New("host: mistyped import")
	// ErrUnknownCapability means a capability name is not one of the
	// capabilities this host knows.
	ErrUnknownCapability = errors.New("host: unknown capability")
	// ErrNotGranted means the module needs a capability the host has not
	// granted.
	ErrNotGranted = errors.New("host: capability not granted")
	// ErrBadMetadata means wasmreg_info did not produce valid metadata.
	ErrBadMetadata = errors.New("host: bad metadata")
	// ErrMemoryLimit means a module wants more linear memory than allowed.
	ErrMemoryLimit = errors.New("host: memory limit exceeded")
	// ErrOutputLimit means a guest wrote more output in one call than allowed.
	ErrOutputLimit = errors.New("host: output limit exceeded")
	// ErrInputLimit means a config or request is larger than allowed.
	ErrInputLimit = errors.New("host: input limit exceeded")
	// ErrTimeout means a guest call ran past its time limit or its
	// context's deadline; the instance was closed.
	ErrTimeout = errors.New("host: guest call timed out")
	// ErrTrap means the guest trapped (unreachable, out-of-bounds access,
	// division by zero, stack overflow, proc_exit, …); the instance was closed.
	ErrTrap = errors.New("host: guest trapped")
	// ErrStackOverflow means the guest recursed too deeply. It wraps
	// [ErrTrap]: the instance was closed.
	ErrStackOverflow = fmt.Errorf("%w: stack overflow", ErrTrap)
	// ErrBusy means every instance slot of the host is in use (see
	// [WithMaxInstances]), or its memory budget is reserved (see
	// [WithMemoryBudget]), and not enough freed up in time.
	ErrBusy = errors.New("host: busy")
	// ErrDigestMismatch means a module's sha256 is not one the host was
	// pinned to (see [WithPinnedDigests]).
	ErrDigestMismatch = errors.New("host: module digest mismatch")
	// ErrGuest means the guest returned a non-zero status from an export.
	ErrGuest = errors.New("host: guest returned an error")
	// ErrOutOfBounds means the guest passed a pointer and length outside its
	// memory to a host import.
	ErrOutOfBounds = errors.New("host: guest pointer out of bounds")
	// ErrOutsideCall means the guest called input, output or error outside an
	// export call (from a start function or _initialize).
	ErrOutsideCall = errors.New("host: import called outside an export call")
	// ErrModelClosed means the model was closed, by its owner or after a
	// trap or timeout.
	ErrModelClosed = errors.New("host: model closed")
	// ErrFactoryClosed means the factory was closed.
	ErrFactoryClosed = errors.New("host: factory closed")
	// ErrClosed means the host was closed.
	ErrClosed = errors.New("host: host closed")
	// ErrInvalidConfig means a config is not JSON or breaks its factory's
	// config_schema; nothing was instantiated. The error is a
	// [*ConfigError] listing every violation.
	ErrInvalidConfig = errors.New("host: invalid config")
	// ErrInvalidOption means an option was given an invalid value.
	ErrInvalidOption = errors.New("host: invalid option")
)

// CallError is the error of a failed guest call: it names the factory,
// what ran (the export, or a step of instantiation) and what went wrong,
// and for a trap the guest's reason. Its Unwrap returns the kind
// ([ErrGuest], [ErrTrap], [ErrTimeout], [ErrOutputLimit], …) and the
// underlying cause, so [errors.Is] works with both.
//
// A CallError is immutable and safe for concurrent use.
type CallError struct {
	// Factory is the factory's full name, such as "mlp@1.2.0" (or
	// "sha256:…" before its metadata was read).
	Factory string
	// Export is what ran: the export being called ("wasmreg_build",
	// "_initialize", …), or "start function" for the module's start
	// function, or "instantiation" for the rest of instantiation (on a host
	// made [WithoutInterruption], wazero runs the start function and
	// _initialize itself: "start function or _initialize" if the module has
	// both).
	Export string
	// Code is the export's non-zero return status, or 0 if it did not return.
	Code int32
	// Message is the guest's error message, or the first line of the trap.
	Message string
	// Reason is why the guest trapped, in its own words: the message it
	// set with the error import in the call before trapping, else what it
	// wrote to stderr in the call (the line a Go or Rust panic starts with,
	// or its last lines, joined with "; "). It is guest-controlled text,
	// sanitised to one line of at most [MaxTrapReason] bytes; "" if the
	// guest gave none, or if the call did not trap.
	Reason string
	// Kind is the sentinel that classifies the failure.
	Kind error
	// Cause is the underlying error, if any (a wazero trap, a context error).
	Cause error
	// Limit is the limit the call went over ([WithCallTimeout],
	// [WithStackLimit]), or nil; Message is then its text.
	Limit *LimitError
}

// Error implements error: "host: factory F export E: reason (trap)" for a
// trap with a reason.
func (e *CallError) Error() string {
	what := e.Export
	if what != exportInstantiate && !strings.HasPrefix(what, phaseStart) {
		what = "export " + what
	}
	msg := e.Message
	if e.Reason != "" {
		msg = e.Reason + " (" + msg + ")"
	}
	if msg == "" {
		return fmt.Sprintf("host: factory %q %s returned code %d", e.Factory, what, e.Code)
	}
	if e.Code != 0 {
		return fmt.Sprintf("host: factory %q %s returned code %d: %s", e.Factory, what, e.Code, msg)
	}
	return fmt.Sprintf("host: factory %q %s: %s", e.Factory, what, msg)
}

// Unwrap returns the kind, the cause and the limit.
func (e *CallError) Unwrap() []error {
	errs := make([]error, 0, 3)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	if e.Limit != nil {
		errs = append(errs, e.Limit)
	}
	return errs
}

// ModuleError is the error of a [Host.Load] that refused a module before
// compiling it: it names the module and lists every problem found, each
// wrapping its sentinel ([ErrMissingExport], [ErrUnknownImport], [ErrMistypedImport],
// [ErrNotGranted], [ErrMemoryLimit], [ErrModuleLimit], [ErrInvalidModule],
// …), so that [errors.Is] works on each and a caller can list them. A
// module that cannot be decoded is one problem.
//
// A ModuleError is immutable once returned and safe for concurrent use.
type ModuleError struct {
	// Module names the module: "sha256:" and the first 12 hex digits of
	// its digest, after its name@version once its metadata named it.
	Module string
	// Problems are what is wrong with it, in the order found; never empty.
	Problems []error
}

// Error implements error: the module and its problems, one per line.
func (e *ModuleError) Error() string {
	if len(e.Problems) == 1 { // the problem starts with its sentinel's "host: …"
		return fmt.Sprintf("%v (module %s)", e.Problems[0], e.Module)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "host: module %s: %d problems:", e.Module, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems.
func (e *ModuleError) Unwrap() []error { return e.Problems }

// LimitError is the error of a module, a call or a request that went over
// one of the host's limits: it names the option that raises the limit in a
// field, so that a caller (a command line mapping options to flags) can
// word its own advice without reading the text. Its Unwrap returns the kind
// ([ErrMemoryLimit], [ErrModuleLimit], [ErrModuleTooLarge], [ErrInputLimit],
// [ErrOutputLimit], [ErrBusy]) and the cause, so [errors.Is] works with both.
//
// A LimitError is immutable once returned and safe for concurrent use.
type LimitError struct {
	// Kind is the sentinel that classifies the limit.
	Kind error
	// Option is the option that raises the limit, such as "WithMemoryLimit".
	Option string
	// Field is the field of the option's value that raises it, for
	// "WithModuleLimits" ("Functions", …); empty otherwise.
	Field string
	// Limit is the limit and Got what went over it, in the limit's unit
	// (bytes, slots, elements, …); 0 where not known.
	Limit, Got int64
	// Detail says what went over the limit, without the advice.
	Detail string
	// Otherwise is another way out, such as "close models"; may be empty.
	Otherwise string
	// Cause is the underlying error, if any (a context error, the strict
	// reader's refusal).
	Cause error
}

// Error implements error: the detail and the advice naming host.Option
// (not the kind: the error that returns it wraps the kind before it).
func (e *LimitError) Error() string {
	how := "host." + e.Option
	if e.Field != "" {
		how += ", field " + e.Field
	}
	return e.Advise(how)
}

// Advise returns the message of Error with how in place of the option
// that raises the limit, such as a command line's flag.
func (e *LimitError) Advise(how string) string {
	msg := fmt.Sprintf("%s (raise it with %s", e.Detail, how)
	if e.Otherwise != "" {
		msg += ", or " + e.Otherwise
	}
	msg += ")"
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap returns the kind and the cause.
func (e *LimitError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

// OptionError is the error of an option given an invalid value: it names
// the option in a field. Its Unwrap returns [ErrInvalidOption].
//
// An OptionError is immutable once returned and safe for concurrent use.
type OptionError struct {
	// Option is the option's name, such as "WithMemoryLimit".
	Option string
	// Reason says what is wrong with the value.
	Reason string
}

// Error implements error.
func (e *OptionError) Error() string { return e.Advise(e.Option) }

// Advise returns the message of Error with name in place of the option's
// name, such as a command line's flag.
func (e *OptionError) Advise(name string) string {
	return fmt.Sprintf("%v: %s: %s", ErrInvalidOption, name, e.Reason)
}

// Unwrap returns [ErrInvalidOption].
func (e *OptionError) Unwrap() error { return ErrInvalidOption }

// overLimit returns e wrapped in its kind, so that its text starts with
// the kind's ("host: input limit exceeded: …").
func overLimit(e *LimitError) error { return fmt.Errorf("%w: %w", e.Kind, e) }
