package host

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/wasmreg/wasmreg/di"
	"github.com/wasmreg/wasmreg/host/internal/interrupt"
	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// Defaults of the limits a [Host] enforces unless told otherwise.
const (
	DefaultMemoryLimit     = 64 << 20 // bytes of linear memory per instance
	DefaultCallTimeout     = 30 * time.Second
	DefaultOutputLimit     = 16 << 20 // bytes of output per call
	DefaultInputLimit      = 16 << 20 // bytes of config or request per call
	DefaultModuleSizeLimit = 64 << 20 // bytes of module file
	DefaultLogLineLimit    = 4 << 10  // bytes per log line, then truncated
	DefaultLogLinesPerCall = 1000     // log lines per call, then dropped
	DefaultStdioLimit      = 64 << 10 // bytes of WASI stdout+stderr logged per instance
	DefaultMaxInstances    = 1024     // live instances at once (models, builds, loads)
	DefaultCompileTimeout  = 30 * time.Second
	// DefaultStackLimit is the guest call stack one call may use, in
	// bytes of the interrupt rewrite's estimate of wazero's frames.
	DefaultStackLimit = interrupt.DefaultStackLimit
	// DefaultTableLimit is the most elements a table may have. Tables
	// live in host memory, 8 bytes an element, and a table that declares
	// no maximum (Go's do not) reserves the limit in the memory budget: a
	// tenth of the WebAssembly JS API's limit of 10,000,000 keeps that to
	// 8 MB, and a Go guest's table has about 6,400 elements.
	DefaultTableLimit = 1_000_000
	MaxErrorMessage   = 4 << 10 // bytes of a guest error message kept
	MaxMetadata       = 1 << 20 // bytes of metadata JSON
	wasmPageSize      = 64 << 10
)

// Capability names a host can grant. See docs/ABI.md §4.2.
const (
	CapLog      = "log"      // always granted
	CapClock    = "clock"    // clock_now, clock_monotonic, real WASI clocks
	CapRandom   = "random"   // random_fill, random_seed
	CapArtifact = "artifact" // artifact_size, artifact_read
)

// Capabilities lists every capability name this host knows, sorted.
func Capabilities() []string {
	return []string{CapArtifact, CapClock, CapLog, CapRandom}
}

func knownCapability(name string) bool {
	return slices.Contains(Capabilities(), name)
}

// config is what the options set. It is built once in New and never changed.
type config struct {
	memoryLimit        uint64
	callTimeout        time.Duration
	outputLimit        int
	inputLimit         int
	moduleSizeLimit    int
	logLineLimit       int
	logLinesPerCall    int
	stdioLimit         int
	maxInstances       int
	compileWorkers     int           // concurrent compilations; 0 means GOMAXPROCS
	compileTimeout     time.Duration // 0: none but the caller's context
	moduleLimits       wasmbin.Limits
	stackLimit         uint32
	tableLimit         uint32
	memoryBudget       uint64          // bytes all live instances may reserve
	pinned             map[string]bool // allowed sha256 digests; nil allows any
	noInterrupt        bool            // trusted guests: no interrupt rewrite
	modelInstances     int             // most instances per model
	noSnapshots        bool            // build every instance from scratch
	recycle            int             // reset instances kept per factory; 0: none
	noConfigValidation bool            // configs are not checked against config_schema
	cacheDir           string
	grants             map[string]bool
	ungranted          bool // Load accepts imports of capabilities not granted
	shapeReported      bool // a throw-away host for a refused module's metadata (refused.go)
	container          *di.Container
	logger             *slog.Logger
	loggerSet          bool
	randomSeed         *uint64
	artifacts          Artifacts
}

func defaultConfig() config {
	return config{
		memoryLimit:     DefaultMemoryLimit,
		callTimeout:     DefaultCallTimeout,
		outputLimit:     DefaultOutputLimit,
		inputLimit:      DefaultInputLimit,
		moduleSizeLimit: DefaultModuleSizeLimit,
		logLineLimit:    DefaultLogLineLimit,
		logLinesPerCall: DefaultLogLinesPerCall,
		stdioLimit:      DefaultStdioLimit,
		maxInstances:    DefaultMaxInstances,
		compileTimeout:  DefaultCompileTimeout,
		moduleLimits:    wasmbin.DefaultLimits(),
		stackLimit:      DefaultStackLimit,
		tableLimit:      DefaultTableLimit,
		memoryBudget:    DefaultMemoryBudget(),
		modelInstances:  1,
		recycle:         DefaultRecycling,
		grants:          map[string]bool{CapLog: true},
	}
}

// Option configures a [Host]. Options are immutable values, safe for
// concurrent use: one can be shared by many goroutines and applied to many
// hosts. Each is validated when
// [New] applies it, and an invalid one fails New with [ErrInvalidOption] and
// the option's name.
type Option func(*config) error

func invalid(option string, format string, args ...any) error {
	return &OptionError{Option: option, Reason: fmt.Sprintf(format, args...)}
}

// WithMemoryLimit sets the most linear memory one instance may have, in
// bytes: a multiple of 64 KiB between 64 KiB and 4 GiB. A module whose
// minimum memory is larger is refused at Load; memory.grow past it fails in
// the guest. The default is [DefaultMemoryLimit].
func WithMemoryLimit(bytes uint64) Option {
	return func(c *config) error {
		if bytes < wasmPageSize || bytes > 1<<32 || bytes%wasmPageSize != 0 {
			return invalid("WithMemoryLimit", "%d bytes is not a multiple of 64 KiB between 64 KiB and 4 GiB", bytes)
		}
		c.memoryLimit = bytes
		return nil
	}
}

// WithCallTimeout sets the time limit of each guest call: instantiation
// with its start functions and _initialize, and each export call. A call
// past it is stopped, fails with [ErrTimeout] and closes its instance. Zero
// means no limit other than the caller's context. The default is
// [DefaultCallTimeout].
func WithCallTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return invalid("WithCallTimeout", "negative duration %s", d)
		}
		c.callTimeout = d
		return nil
	}
}

// WithStdioLimit sets the most bytes of WASI stdout and stderr the host
// logs per instance; the rest is dropped, and the drop logged once. The
// default is [DefaultStdioLimit]. The option is a value, safe for
// concurrent use.
func WithStdioLimit(bytes int) Option {
	return func(c *config) error {
		if bytes <= 0 {
			return invalid("WithStdioLimit", "%d bytes is not positive", bytes)
		}
		c.stdioLimit = bytes
		return nil
	}
}

// WithOutputLimit sets the most bytes a guest may write with output in one
// call. The default is [DefaultOutputLimit].
func WithOutputLimit(bytes int) Option {
	return func(c *config) error {
		if bytes <= 0 {
			return invalid("WithOutputLimit", "%d bytes is not positive", bytes)
		}
		c.outputLimit = bytes
		return nil
	}
}

// WithInputLimit sets the largest config or request, in bytes, that the host
// passes to a guest. The default is [DefaultInputLimit].
func WithInputLimit(bytes int) Option {
	return func(c *config) error {
		if bytes <= 0 || bytes > 1<<31-1 {
			return invalid("WithInputLimit", "%d bytes is not between 1 and 2^31-1", bytes)
		}
		c.inputLimit = bytes
		return nil
	}
}

// WithModuleSizeLimit sets the largest module, in bytes, that Load accepts.
// The default is [DefaultModuleSizeLimit].
func WithModuleSizeLimit(bytes int) Option {
	return func(c *config) error {
		if bytes <= 0 {
			return invalid("WithModuleSizeLimit", "%d bytes is not positive", bytes)
		}
		c.moduleSizeLimit = bytes
		return nil
	}
}

// WithLogLimits sets the longest log line in bytes (longer ones are
// truncated) and the most log lines one guest call may write (further lines
// are dropped and counted). The defaults are [DefaultLogLineLimit] and
// [DefaultLogLinesPerCall].
func WithLogLimits(lineBytes, linesPerCall int) Option {
	return func(c *config) error {
		if lineBytes < 16 || linesPerCall < 1 {
			return invalid("WithLogLimits", "line limit %d (at least 16) or lines per call %d (at least 1)", lineBytes, linesPerCall)
		}
		c.logLineLimit = lineBytes
		c.logLinesPerCall = linesPerCall
		return nil
	}
}

// WithMaxInstances sets how many module instances may be alive at once:
// models not yet closed, plus instances being built or loaded. A build
// beyond it waits for a slot until its context is done or the call timeout
// passes, then fails with [ErrBusy]. The memory the instances hold is
// bounded by [WithMemoryBudget]. The default is [DefaultMaxInstances].
func WithMaxInstances(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return invalid("WithMaxInstances", "%d is not positive", n)
		}
		c.maxInstances = n
		return nil
	}
}

// WithMemoryBudget sets the most host memory, in bytes, that all live
// instances together may reserve. Each instance reserves, before it is
// instantiated, its memory's declared maximum (the memory limit if it
// declares none or a larger one, see [WithMemoryLimit]) plus a fixed
// overhead for what else it holds ([Factory.MemoryReservation] says how
// much), and gives it back when it is closed. A build or load past the
// budget waits for reservations to be released until its context is done
// or the call timeout passes, then fails with [ErrBusy]; waiting builds are
// served in the order they came, so that a large one is not starved by
// smaller ones. An instance that needs more than the whole budget fails at
// once with [ErrMemoryLimit]. The budget must be at least 64 KiB. The
// default is [DefaultMemoryBudget].
func WithMemoryBudget(bytes uint64) Option {
	return func(c *config) error {
		if bytes < wasmPageSize {
			return invalid("WithMemoryBudget", "%d bytes is less than 64 KiB", bytes)
		}
		c.memoryBudget = bytes
		return nil
	}
}

// WithModelInstances sets how many instances a [Model] may have, all
// built with its config: a Build makes one, and concurrent Predicts that
// find them all busy build more, up to n, so that they run in parallel
// instead of waiting for each other. The instances count against
// [WithMaxInstances] and [WithMemoryBudget]; a Predict that cannot add
// one at once, for want of a slot or budget, waits for one of the model's
// instances instead. Use it only with factories whose predictions do not
// change their state. The default is 1.
func WithModelInstances(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return invalid("WithModelInstances", "%d is not positive", n)
		}
		c.modelInstances = n
		return nil
	}
}

// WithoutConfigValidation makes Build pass every config to the factory
// without checking it against the factory's config_schema, for factories
// that validate their configs themselves. Load still refuses a
// config_schema that does not compile. By default a factory with a
// config_schema gets only configs that satisfy it; others fail with
// [ErrInvalidConfig] before anything is instantiated.
func WithoutConfigValidation() Option {
	return func(c *config) error {
		c.noConfigValidation = true
		return nil
	}
}

// WithoutSnapshots makes every build instantiate its module from scratch.
// By default a factory module is snapshotted at Load right after
// _initialize when it is 256 KiB or more, or when the host recycles
// instances (see [WithRecycling]), on a host that grants neither random
// nor clock (so that _initialize saw nothing a later run could see
// differently), if it has no instruction that changes a table or drops a
// segment (which a snapshot of memory and globals would not hold), no
// start section and numbers only in its mutable globals. Every build then
// starts a fresh instance from a copy of that memory image and those
// globals: the same state, as isolated, about three times faster for a Go
// guest (docs/PERFORMANCE.md). Turn it off to see _initialize's log lines
// at every build.
func WithoutSnapshots() Option {
	return func(c *config) error {
		c.noSnapshots = true
		return nil
	}
}

// WithRecycling sets how many instances a factory keeps for its next
// builds: when a model of a snapshotted factory (see [WithoutSnapshots])
// is closed with [Model.Close] and nothing went wrong, its instance is
// reset to the state right after _initialize (memory back to the image,
// its length too, every mutable global, the WASI clocks and output cap)
// and the next Build reuses it instead of instantiating the module again.
// Only a module without any instruction that changes a table or drops a
// segment is recycled; an instance that trapped, timed out, was stopped,
// was closed under a running call or called a WASI function that changes
// state the host does not reset is closed instead. A kept instance holds
// neither an instance slot nor memory budget. 0 turns recycling off; the
// default is [DefaultRecycling]. See the package doc, "Recycling".
func WithRecycling(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return invalid("WithRecycling", "%d is negative", n)
		}
		c.recycle = n
		return nil
	}
}

// WithCompileConcurrency sets how many modules Load compiles at once;
// further Loads wait. Compiling a Go guest takes about a second of CPU and
// ignores its context, so this bounds the CPU that loads can take. The
// default is GOMAXPROCS.
func WithCompileConcurrency(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return invalid("WithCompileConcurrency", "%d is not positive", n)
		}
		c.compileWorkers = n
		return nil
	}
}

// WithCompileTimeout sets how long Load waits for wazero to compile a
// module: a module that takes longer is refused with [ErrModuleLimit].
// wazero's compile cannot be interrupted, so the abandoned compile ends on
// its own, in a time the structural limits bound ([WithModuleLimits]);
// until then it holds its compilation slot. Zero means no limit other than
// Load's context. The default is [DefaultCompileTimeout].
func WithCompileTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return invalid("WithCompileTimeout", "negative duration %s", d)
		}
		c.compileTimeout = d
		return nil
	}
}

// ModuleLimits bound a module's structure, checked before wazero decodes
// or compiles anything: wazero's decoder allocates per declared local, and
// its compile time grows faster than linearly with some shapes. The
// defaults ([DefaultModuleLimits]) are the WebAssembly JS API's
// implementation limits where they are low enough, and below them what
// keeps the compile of any module they admit to a few seconds
// (docs/SECURITY.md; host/internal/compilecost has the measurements). A
// ModuleLimits is a plain value, safe for concurrent use as long as nobody
// modifies it.
type ModuleLimits struct {
	Types           uint32 // entries of the type section
	Functions       uint32 // imported and defined functions
	Imports         uint32
	Exports         uint32
	Globals         uint32 // imported and defined globals
	MutableGlobals  uint32 // imported and defined mutable globals: each call reloads every one
	Tables          uint32 // imported and defined tables
	ElementSegments uint32
	DataSegments    uint32
	ParamsResults   uint32 // params of one function or block type, and results likewise

	LocalsPerFunction       uint32 // params and declared locals of one function
	Locals                  uint64 // declared locals of all functions
	FunctionBodyBytes       uint32 // bytes of one function body
	InstructionsPerFunction uint32
	ControlPerFunction      uint32 // block, loop, if, else, br_if and br_table targets of one function
	StackHeight             uint32 // values on one function's operand stack at once
	BlockDepth              uint32 // nesting of block, loop and if, the function's own block counted
	LoopsPerFunction        uint32
	BrTableTargets          uint32 // targets of one br_table, the default counted
	Instructions            uint64 // instructions of the whole module
	// CompileCost bounds an estimate, from the module's structure, of
	// the CPU time wazero takes to compile it, in microseconds: checked
	// on the module as written and on the module as the host compiles it,
	// with its interrupt checks.
	CompileCost uint64
}

// DefaultModuleLimits returns the limits a host applies unless told
// otherwise.
func DefaultModuleLimits() ModuleLimits {
	return moduleLimitsOf(wasmbin.DefaultLimits())
}

// moduleLimitsOf is l's ModuleLimits: every field but the table size.
func moduleLimitsOf(l wasmbin.Limits) ModuleLimits {
	return ModuleLimits{Types: l.Types, Functions: l.Functions, Imports: l.Imports, Exports: l.Exports,
		Globals: l.Globals, MutableGlobals: l.MutableGlobals, Tables: l.Tables, ElementSegments: l.ElementSegments,
		DataSegments: l.DataSegments, ParamsResults: l.ParamsResults,
		LocalsPerFunction: l.LocalsPerFunction, Locals: l.Locals, FunctionBodyBytes: l.FunctionBodyBytes,
		InstructionsPerFunction: l.InstructionsPerFunction, ControlPerFunction: l.ControlPerFunction,
		StackHeight: l.StackHeight, BlockDepth: l.BlockDepth, LoopsPerFunction: l.LoopsPerFunction,
		BrTableTargets: l.BrTableTargets, Instructions: l.Instructions, CompileCost: l.CompileCost}
}

// WithModuleLimits sets the structural limits Load checks: a module over
// one is refused with [ErrModuleLimit], naming the limit, the value found
// and the field to raise. A zero field keeps its default, so start from
// the fields you change; raising a limit far above its default lets a
// module make Load compile for long (the compile timeout still applies).
// The table size is [WithTableLimit]'s.
func WithModuleLimits(l ModuleLimits) Option {
	return func(c *config) error {
		d := wasmbin.DefaultLimits()
		pick := func(v, def uint32) uint32 {
			if v == 0 {
				return def
			}
			return v
		}
		pick64 := func(v, def uint64) uint64 {
			if v == 0 {
				return def
			}
			return v
		}
		c.moduleLimits = wasmbin.Limits{
			Types: pick(l.Types, d.Types), Functions: pick(l.Functions, d.Functions), Imports: pick(l.Imports, d.Imports),
			Exports: pick(l.Exports, d.Exports), Globals: pick(l.Globals, d.Globals),
			MutableGlobals: pick(l.MutableGlobals, d.MutableGlobals), Tables: pick(l.Tables, d.Tables),
			ElementSegments: pick(l.ElementSegments, d.ElementSegments), DataSegments: pick(l.DataSegments, d.DataSegments),
			ParamsResults: pick(l.ParamsResults, d.ParamsResults), TableSize: c.tableLimit,
			LocalsPerFunction: pick(l.LocalsPerFunction, d.LocalsPerFunction), Locals: pick64(l.Locals, d.Locals),
			FunctionBodyBytes:       pick(l.FunctionBodyBytes, d.FunctionBodyBytes),
			InstructionsPerFunction: pick(l.InstructionsPerFunction, d.InstructionsPerFunction),
			ControlPerFunction:      pick(l.ControlPerFunction, d.ControlPerFunction),
			StackHeight:             pick(l.StackHeight, d.StackHeight), BlockDepth: pick(l.BlockDepth, d.BlockDepth),
			LoopsPerFunction: pick(l.LoopsPerFunction, d.LoopsPerFunction), BrTableTargets: pick(l.BrTableTargets, d.BrTableTargets),
			Instructions: pick64(l.Instructions, d.Instructions), CompileCost: pick64(l.CompileCost, d.CompileCost),
		}
		return nil
	}
}

// WithTableLimit sets the most elements a table may have: a module
// declaring a larger minimum is refused at Load with [ErrModuleLimit], and
// table.grow past it returns -1 in the guest. Tables live in host memory
// (8 bytes an element) whatever the memory limit. The default is
// [DefaultTableLimit].
func WithTableLimit(elements uint32) Option {
	return func(c *config) error {
		if elements < 1 || elements > interrupt.MaxTableLimit {
			return invalid("WithTableLimit", "%d elements is not between 1 and %d", elements, interrupt.MaxTableLimit)
		}
		c.tableLimit = elements
		c.moduleLimits.TableSize = elements
		return nil
	}
}

// WithStackLimit sets the guest call stack one call may use, in bytes: a
// call that recurses deeper fails with [ErrStackOverflow]. wazero keeps the
// stack in host memory, whatever the memory limit; the limit applies to an
// estimate of wazero's frames that is never below their real size
// (docs/ABI.md §2). It needs the interrupt rewrite: on a host made
// [WithoutInterruption] only wazero's own bound (hundreds of MiB) applies.
// The default is [DefaultStackLimit].
func WithStackLimit(bytes uint32) Option {
	return func(c *config) error {
		if bytes < 64<<10 || bytes > interrupt.MaxStackLimit {
			return invalid("WithStackLimit", "%d bytes is not between 64 KiB and %d", bytes, interrupt.MaxStackLimit)
		}
		c.stackLimit = bytes
		return nil
	}
}

// WithPinnedDigests makes Load refuse every module whose sha256 (lowercase
// hex, as sha256sum prints it) is not one of digests, with
// [ErrDigestMismatch]. Repeated options add up.
func WithPinnedDigests(digests ...string) Option {
	digests = slices.Clone(digests) // the caller may change its slice before New
	return func(c *config) error {
		if c.pinned == nil {
			c.pinned = map[string]bool{}
		}
		for _, d := range digests {
			if !isDigest(d) {
				return invalid("WithPinnedDigests", "%q is not a lowercase hex sha256", d)
			}
			c.pinned[d] = true
		}
		return nil
	}
}

func isDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// WithoutInterruption compiles guests as they are, without the checks
// that let a call be stopped (docs/ABI.md §2): a call then runs to its end
// whatever its context or the call timeout say (a call whose deadline
// passed still fails, with [ErrTimeout], when it returns, and the host's
// imports fail at once after it), an infinite loop hangs its goroutine for
// ever, and, as compiled guest code never returns to Go, the Go runtime's
// next stop-the-world with it: the whole process. The guest's call stack
// is then bounded only by wazero (hundreds of MiB). It makes guest code
// faster (docs/PERFORMANCE.md §3), and is only for hosts whose factories
// are all trusted: it is a property of the host, which no factory,
// metadata or request can turn on. The structural limits and the table
// limit still apply.
func WithoutInterruption() Option {
	return func(c *config) error {
		c.noInterrupt = true
		return nil
	}
}

// WithCompilationCacheDir keeps wazero's compiled code in dir, so that a
// module compiled once is not compiled again by a later process, and, in
// its subdirectory wasmreg-load, what Load computed for the module (its
// strict reading and its rewrites, keyed by the module's digest, the
// wasmreg build and the settings they depend on), so that a later process
// loading the same module does not compute it again. The
// directory is created with owner-only permissions if it does not exist;
// [New] refuses one that another user owns or could write to, or anything
// in it, with [ErrUnsafeCacheDir]: compiled code found there runs as it is.
func WithCompilationCacheDir(dir string) Option {
	return func(c *config) error {
		if dir == "" {
			return invalid("WithCompilationCacheDir", "empty directory")
		}
		c.cacheDir = dir
		return nil
	}
}

// WithGrants grants capabilities to every factory the host loads: any of
// [CapClock], [CapRandom], [CapArtifact] ([CapLog] is always granted).
// Capabilities are denied by default. Repeated options add up.
func WithGrants(capabilities ...string) Option {
	capabilities = slices.Clone(capabilities) // the caller may change its slice before New
	return func(c *config) error {
		for _, name := range capabilities {
			if !knownCapability(name) {
				return fmt.Errorf("%w: WithGrants: %q: %w (known: %v)", ErrInvalidOption, name, ErrUnknownCapability, Capabilities())
			}
			c.grants[name] = true
		}
		return nil
	}
}

// WithContainer makes the host resolve capabilities from container, and
// open every build and prediction as a request scope of it. For the
// capability types the container does not provide ([Clock], [Random],
// [Artifacts], *slog.Logger) the host uses its own defaults (and those
// its options set), so a caller provides only what it replaces. The host
// never writes into the container: hosts may share one, each with its own
// defaults.
func WithContainer(container *di.Container) Option {
	return func(c *config) error {
		if container == nil {
			return invalid("WithContainer", "nil container")
		}
		c.container = container
		return nil
	}
}

// WithLogger sets the logger for the host's own messages and, unless the
// container provides a *slog.Logger, for the guests' log lines and WASI
// output. The default is [slog.Default].
func WithLogger(logger *slog.Logger) Option {
	return func(c *config) error {
		if logger == nil {
			return invalid("WithLogger", "nil logger")
		}
		c.logger, c.loggerSet = logger, true
		return nil
	}
}

// WithRandomSeed makes the default random capability reproducible: every
// request's stream starts from seed instead of a cryptographic seed.
func WithRandomSeed(seed uint64) Option {
	return func(c *config) error {
		c.randomSeed = &seed
		return nil
	}
}

// WithArtifacts sets the artifacts the artifact capability serves, unless
// the container provides [Artifacts] itself. It does not grant the
// capability: see [WithGrants].
func WithArtifacts(a Artifacts) Option {
	return func(c *config) error {
		if a == nil {
			return invalid("WithArtifacts", "nil artifacts")
		}
		c.artifacts = a
		return nil
	}
}
