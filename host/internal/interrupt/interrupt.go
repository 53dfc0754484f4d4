package interrupt

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// The names the rewrite exports. docs/ABI.md reserves every export name
// beginning with ReservedPrefix for the host.
const (
	ReservedPrefix = "__wasmreg_"
	// StopGlobal is the stop flag, a mutable i32: 0 lets the guest run;
	// the host sets it to StopValue, from any goroutine, to make the guest
	// trap (unreachable) at its next check.
	StopGlobal = "__wasmreg_stop"
	// StackGlobal is the stack budget left, a mutable i32 in estimated
	// bytes: negative once a call overflowed it (and trapped). The guest
	// alone writes it.
	StackGlobal = "__wasmreg_stack"
	// StartExport is the former start function, if the module had one.
	StartExport = "__wasmreg_start"
)

// StopValue is what the host sets StopGlobal to, with
// api.MutableGlobal.Set: the checks test the sign of the flag, ORed with
// the counters, in a single branch, so only a negative value stops the
// guest (1 would not).
const StopValue uint64 = 0x8000_0000

// Defaults and bounds of Options.
const (
	// DefaultPeriod is the fuel between two returns to Go: about 5 ms of
	// the slowest guest code measured, far less for ordinary code (where
	// a return to Go, 27 ns, then costs well under 1%).
	DefaultPeriod = 5_000_000
	// MaxPeriod keeps every counter in an i32 without wrapping.
	MaxPeriod = 1 << 29

	// DefaultStackLimit is the estimated stack of one call, in bytes.
	// The estimate bounds wazero's real frames (frame.go), so the real
	// stack of a call stays under it too.
	DefaultStackLimit = 8 << 20
	// MaxStackLimit keeps the stack counter in an i32 without wrapping.
	MaxStackLimit = 1 << 29

	// DefaultTableLimit is the entries a table may have, the WebAssembly
	// JS API's limit.
	DefaultTableLimit = 10_000_000
	// MaxTableLimit keeps a table operation's charge (4 fuel units per
	// entry) in an i32.
	MaxTableLimit = 1 << 28
)

// Options tune the rewrite. A zero field takes its default. Options is a
// plain value: Instrument only reads it, so one may be shared.
type Options struct {
	// Period is the fuel, in units of about a nanosecond of the slowest
	// code, the guest runs between two returns to Go. At most MaxPeriod.
	Period uint32
	// StackLimit is the estimated stack one call may use, in bytes. At
	// most MaxStackLimit.
	StackLimit uint32
	// TableLimit is the entries any table may have. At most MaxTableLimit.
	TableLimit uint32
	// HostPrefixes lists prefixes of reserved export names that an earlier
	// rewrite of the host added and Instrument must accept (the snapshot
	// rewrite's "__wasmreg_snapshot_global_"). Any other export beginning
	// with ReservedPrefix is refused.
	HostPrefixes []string

	// countYields makes $slow count its returns to Go in an exported i64
	// global, yieldsGlobal, for the tests that measure the gaps.
	countYields bool
}

// yieldsGlobal names the tests' count of returns to Go.
const yieldsGlobal = "__wasmreg_test_yields"

// DefaultOptions returns the options the zero Options stands for.
func DefaultOptions() Options {
	return Options{Period: DefaultPeriod, StackLimit: DefaultStackLimit, TableLimit: DefaultTableLimit}
}

// resolve fills in the defaults and checks the bounds.
func (o Options) resolve() (Options, error) {
	if o.Period == 0 {
		o.Period = DefaultPeriod
	}
	if o.StackLimit == 0 {
		o.StackLimit = DefaultStackLimit
	}
	if o.TableLimit == 0 {
		o.TableLimit = DefaultTableLimit
	}
	switch {
	case o.Period > MaxPeriod:
		return o, fmt.Errorf("%w: Period %d is over %d", ErrInvalidOptions, o.Period, MaxPeriod)
	case o.StackLimit > MaxStackLimit:
		return o, fmt.Errorf("%w: StackLimit %d is over %d", ErrInvalidOptions, o.StackLimit, MaxStackLimit)
	case o.TableLimit > MaxTableLimit:
		return o, fmt.Errorf("%w: TableLimit %d is over %d", ErrInvalidOptions, o.TableLimit, MaxTableLimit)
	}
	for _, p := range o.HostPrefixes {
		if !strings.HasPrefix(p, ReservedPrefix) || len(p) == len(ReservedPrefix) {
			return o, fmt.Errorf("%w: HostPrefixes entry %q does not extend %q", ErrInvalidOptions, p, ReservedPrefix)
		}
	}
	return o, nil
}

// Errors. Check them with errors.Is; the errors returned are *Error.
var (
	// ErrNotInstrumentable means the rewrite cannot make the module stop
	// when asked and bound itself: the host must refuse it (or run it
	// without interruption, if it opted out).
	ErrNotInstrumentable = errors.New("interrupt: module cannot be instrumented")
	// ErrTableLimit means a table's declared minimum is over the table
	// limit.
	ErrTableLimit = errors.New("interrupt: table over the limit")
	// ErrInvalidOptions means an Options field is out of its bounds.
	ErrInvalidOptions = errors.New("interrupt: invalid options")
)

// Error names what the rewrite refused and why. It is immutable once
// returned.
type Error struct {
	What   string // such as `export[3] "__wasmreg_x"` or "table[0]"
	Reason string
	Kind   error // ErrNotInstrumentable or ErrTableLimit
}

func (e *Error) Error() string { return "interrupt: " + e.What + ": " + e.Reason }

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Kind }

func refuse(kind error, what, format string, args ...any) *Error {
	return &Error{What: what, Reason: fmt.Sprintf(format, args...), Kind: kind}
}

// Plan says what Instrument added. It is not changed after Instrument
// returns, and is safe for concurrent use.
type Plan struct {
	StopGlobal  string // export name of the stop flag: StopGlobal
	StackGlobal string // export name of the stack budget: StackGlobal
	Start       string // export name of the former start function, "" if none: StartExport

	Functions   int // function bodies with an entry check: all the module defines
	Loops       int // loop headers checked: the module's loops, Σ Code.Loops
	Bulk        int // bulk memory and table operations charged by length
	Checkpoints int // checks splitting paths that would cost more than Period/8

	Options Options // as applied, defaults filled in
	// MaxFrame is the largest stack charge of one function, in estimated
	// bytes; a call of a function charged more than Options.StackLimit
	// always overflows.
	MaxFrame uint32
}

// StackOverflowed reports whether mod, an instance of the rewritten module
// whose call just trapped, trapped because the call's stack passed the
// limit. A call that trapped leaves the stack budget spent (only returns
// give it back): the host must not call a trapped instance again.
func (p *Plan) StackOverflowed(mod api.Module) bool {
	g := mod.ExportedGlobal(p.StackGlobal)
	return g != nil && int32(g.Get()) < 0
}

// Stopped reports whether mod's stop flag is raised.
func (p *Plan) Stopped(mod api.Module) bool {
	g := mod.ExportedGlobal(p.StopGlobal)
	return g != nil && int32(g.Get()) != 0
}
