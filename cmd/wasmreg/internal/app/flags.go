package app

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/wasmreg/wasmreg/host"
)

// Names of the flags that more than one command reads.
const (
	flagDir          = "dir"
	flagCacheDir     = "cache-dir"
	flagNoCache      = "no-cache"
	flagLogLevel     = "log-level"
	flagLogFormat    = "log-format"
	flagTimeout      = "timeout"
	flagMemoryLimit  = "memory-limit"
	flagBudget       = "memory-budget"
	flagMaxInst      = "max-instances"
	flagInputLimit   = "input-limit"
	flagOutputLimit  = "output-limit"
	flagModuleLimit  = "module-size-limit"
	flagCompiles     = "compile-concurrency"
	flagCompileTime  = "compile-timeout"
	flagStackLimit   = "stack-limit"
	flagTableLimit   = "table-limit"
	flagModuleLimits = "module-limit"
	flagLogLine      = "log-line-limit"
	flagLogLines     = "log-lines-per-call"
	flagJSON         = "json"
)

// ReorderArgs moves every flag of args (with its value, for a flag that
// takes one) ahead of the positional arguments, so that flags work wherever
// users type them: urfave/cli, like Go's flag package, stops parsing flags
// at the first positional argument, and would otherwise take
// `wasmreg run model.wasm --config @c.json` for two positional arguments and
// silently ignore the config.
//
// args is os.Args: the program name, global flags, the command name, then
// the command's flags and arguments in any order. Global flags found after
// the command name move before it; the command's own flags go right after
// it; "--" ends the flags, and everything after it stays positional (a
// "--" is kept in front of the positional arguments so that one starting
// with "-" is not taken for a flag). A flag that neither the command nor the
// app knows stays with the command's flags, so that the parser reports it.
// When the command's flags ask for help, the positional arguments are
// dropped: `wasmreg run m.wasm --help` shows the help of run. Without a
// known command, args is returned as it is.
//
// It fails only for a flag that takes a value but is the last argument:
// moving it would make it take a positional argument as its value.
func ReorderArgs(app *cli.App, args []string) ([]string, error) {
	if len(args) < 2 {
		return args, nil
	}
	global := flagSpecs(app.Flags)
	global["v"], global["version"] = false, false // added by cli.App.Setup
	rest := args[1:]

	var globals []string
	i := 0
	for i < len(rest) && isFlagArg(rest[i]) {
		n := flagArgs(global, rest[i:])
		if i+n > len(rest) {
			return args, nil // a value flag without its value: urfave/cli says so
		}
		globals = append(globals, rest[i:i+n]...)
		i += n
	}
	if i == len(rest) || rest[i] == "--" {
		return args, nil
	}
	name := rest[i]
	cmd := app.Command(name)
	if cmd == nil {
		return args, nil
	}
	local := flagSpecs(cmd.Flags)

	var flags, positional []string
	dashDash := false
	for j := i + 1; j < len(rest); {
		a := rest[j]
		switch {
		case dashDash:
			positional = append(positional, a)
			j++
		case a == "--":
			dashDash = true
			j++
		case !isFlagArg(a):
			positional = append(positional, a)
			j++
		default:
			specs, dst := local, &flags
			if _, ok := local[flagName(a)]; !ok {
				if _, ok := global[flagName(a)]; ok {
					specs, dst = global, &globals
				}
			}
			n := flagArgs(specs, rest[j:])
			if n == 2 && j+1 == len(rest) {
				return nil, usageErrorf("%s: flag %s needs a value (see 'wasmreg %s --help')", name, a, name)
			}
			*dst = append(*dst, rest[j:j+n]...)
			j += n
		}
	}

	out := make([]string, 0, len(args)+1)
	out = append(out, args[0])
	out = append(out, globals...)
	out = append(out, name)
	out = append(out, flags...)
	if slices.ContainsFunc(flags, isHelpFlag) {
		// urfave/cli would take the first positional argument for the
		// name of a command to show help for: `run m.wasm --help` would
		// fail with "No help topic for 'm.wasm'".
		return out, nil
	}
	if dashDash {
		out = append(out, "--")
	}
	return append(out, positional...), nil
}

// isHelpFlag reports whether a asks for help: -h, --help, -help or
// --help=true.
func isHelpFlag(a string) bool {
	switch a {
	case "-h", "--h", "-help", "--help", "-h=true", "--h=true", "-help=true", "--help=true":
		return true
	}
	return false
}

// flagSpecs maps every name and alias of flags, and of the help flag that
// urfave/cli adds, to whether the flag takes a value.
func flagSpecs(flags []cli.Flag) map[string]bool {
	specs := map[string]bool{"h": false, "help": false}
	for _, f := range flags {
		takesValue := true
		if tv, ok := f.(interface{ TakesValue() bool }); ok {
			takesValue = tv.TakesValue()
		}
		for _, n := range f.Names() {
			specs[n] = takesValue
		}
	}
	return specs
}

// isFlagArg reports whether a is a flag: "-x" or "--x", but not "-"
// (standard input by convention) and not "--" (the end of flags).
func isFlagArg(a string) bool {
	return len(a) > 1 && a[0] == '-' && a != "--"
}

// flagName returns the name of the flag argument a: "config" for
// "--config", "-config" and "--config=x".
func flagName(a string) string {
	a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	name, _, _ := strings.Cut(a, "=")
	return name
}

// flagArgs returns how many arguments the flag at args[0] spans: 2 for a
// flag that takes a value given as the next argument, else 1 (a bool flag,
// "--flag=value", or an unknown flag).
func flagArgs(specs map[string]bool, args []string) int {
	a := args[0]
	takesValue, known := specs[flagName(a)]
	if !known || !takesValue || strings.Contains(a, "=") {
		return 1
	}
	return 2
}

// sizeUnits are the units ParseSize accepts, all binary.
var sizeUnits = map[string]uint64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}

// ParseSize parses a size in bytes: a number, optionally with a fraction,
// and an optional unit: B, K, KB, KiB, M, MB, MiB, G, GB, GiB, T, TB or TiB,
// case-insensitive, with or without a space. Every unit is binary
// (K = KB = KiB = 1024), as memory sizes are: "128M" is 128 MiB. The result
// must be a whole number of bytes.
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	end := 0
	for end < len(t) && (t[end] >= '0' && t[end] <= '9' || t[end] == '.') {
		end++
	}
	num, unit := t[:end], strings.ToLower(strings.TrimSpace(t[end:]))
	mult, ok := sizeUnits[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("%q is not a size (examples: 64MiB, 128M, 1GiB, 1048576)", s)
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil || n > math.MaxUint64/mult {
			return 0, fmt.Errorf("%q is not a size: too large", s)
		}
		return n * mult, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (examples: 64MiB, 128M, 1GiB, 1048576)", s)
	}
	bytes := f * float64(mult)
	if bytes >= math.MaxUint64 {
		return 0, fmt.Errorf("%q is not a size: too large", s)
	}
	if bytes != math.Trunc(bytes) {
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	return uint64(bytes), nil
}

// Grants is what the --grant flags of `wasmreg run` ask for. It is a plain
// value, safe for concurrent use as long as nobody changes it.
type Grants struct {
	// Capabilities to grant, sorted, without duplicates and without "log"
	// (always granted).
	Capabilities []string
	// RandomSeed makes the random capability reproducible when set
	// (--grant random=SEED).
	RandomSeed *uint64
	// Artifacts maps artifact names to the files that hold them
	// (--grant artifact=NAME=FILE).
	Artifacts map[string]string
}

// grantSyntax returns how --grant writes the capability c: its name, with
// the value that random and artifact take.
func grantSyntax(c string) string {
	switch c {
	case host.CapRandom:
		return "random[=SEED]"
	case host.CapArtifact:
		return "artifact=NAME=FILE"
	}
	return c
}

// grantable lists what --grant takes, in grantSyntax: every capability of
// host.Capabilities but log, which is always granted.
func grantable() string {
	caps := needsGrants(host.Capabilities())
	for i, c := range caps {
		caps[i] = grantSyntax(c)
	}
	return strings.Join(caps, ", ")
}

// ParseGrants parses the values of the --grant flags: the name of any of
// host.Capabilities (case-insensitive), with a value for two of them:
// "random=SEED" (a seed for reproducible runs) and "artifact=NAME=FILE"
// (repeatable; grants the artifact capability); "log" is always granted and
// accepted for symmetry. Its errors name the flag and the value.
func ParseGrants(values []string) (Grants, error) {
	g := Grants{Artifacts: map[string]string{}}
	caps := map[string]bool{}
	for _, v := range values {
		capName, arg, hasArg := strings.Cut(v, "=")
		capName = strings.ToLower(strings.TrimSpace(capName))
		bad := func(format string, args ...any) (Grants, error) {
			return Grants{}, fmt.Errorf("--grant %s: %s", v, fmt.Sprintf(format, args...))
		}
		if !slices.Contains(host.Capabilities(), capName) {
			return bad("unknown capability %q (known: %s)", capName, grantable())
		}
		switch capName {
		case host.CapLog:
			if hasArg {
				return bad("log takes no value")
			}
		case host.CapRandom:
			if hasArg {
				seed, err := strconv.ParseUint(arg, 10, 64)
				if err != nil {
					return bad("the seed must be an integer between 0 and %d", uint64(math.MaxUint64))
				}
				if g.RandomSeed != nil && *g.RandomSeed != seed {
					return bad("random is already seeded with %d", *g.RandomSeed)
				}
				g.RandomSeed = &seed
			}
			caps[capName] = true
		case host.CapArtifact:
			name, file, ok := strings.Cut(arg, "=")
			if !hasArg || !ok || name == "" || file == "" {
				return bad("write artifact=NAME=FILE, such as artifact=weights=model.bin")
			}
			if prev, dup := g.Artifacts[name]; dup && prev != file {
				return bad("artifact %q is already granted from %s", name, prev)
			}
			g.Artifacts[name] = file
			caps[capName] = true
		default: // clock, and any capability that takes no value
			if hasArg {
				return bad("%s takes no value", capName)
			}
			caps[capName] = true
		}
	}
	for c := range caps {
		g.Capabilities = append(g.Capabilities, c)
	}
	slices.Sort(g.Capabilities)
	return g, nil
}

// Options returns the host options that grant g, reading the artifact
// files.
func (g Grants) Options() ([]host.Option, error) {
	opts := []host.Option{host.WithGrants(g.Capabilities...)}
	if g.RandomSeed != nil {
		opts = append(opts, host.WithRandomSeed(*g.RandomSeed))
	}
	if len(g.Artifacts) > 0 {
		a, err := host.ArtifactsFromFiles(g.Artifacts)
		if err != nil {
			return nil, fmt.Errorf("--grant artifact: %w", err)
		}
		opts = append(opts, host.WithArtifacts(a))
	}
	return opts, nil
}

// limitFlags are the flags that bound every guest call, for each command
// that loads modules.
func limitFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{
			Name:    flagTimeout,
			Usage:   "time limit of each guest call (instantiation, build, each request); 0 for none",
			Value:   host.DefaultCallTimeout,
			EnvVars: []string{"WASMREG_TIMEOUT"},
		},
		&cli.StringFlag{
			Name:    flagMemoryLimit,
			Usage:   "most linear memory per instance: a multiple of 64KiB, such as 64MiB, 128M, 1GiB or 1048576",
			Value:   sizeString(host.DefaultMemoryLimit),
			EnvVars: []string{"WASMREG_MEMORY_LIMIT"},
		},
		&cli.StringFlag{
			Name: flagBudget,
			Usage: fmt.Sprintf("most memory all live instances may reserve together, such as 8GiB; a build beyond it waits, then fails as busy "+
				"(default: half of the machine's memory or of its cgroup's limit, here %s)", sizeString(host.DefaultMemoryBudget())),
			EnvVars: []string{"WASMREG_MEMORY_BUDGET"},
		},
		&cli.IntFlag{
			Name:    flagMaxInst,
			Usage:   "most module instances alive at once; a build beyond it waits, then fails as busy",
			Value:   host.DefaultMaxInstances,
			EnvVars: []string{"WASMREG_MAX_INSTANCES"},
		},
		&cli.StringFlag{
			Name:    flagInputLimit,
			Usage:   "largest config or request passed to a guest, such as 16MiB",
			Value:   sizeString(host.DefaultInputLimit),
			EnvVars: []string{"WASMREG_INPUT_LIMIT"},
		},
		&cli.StringFlag{
			Name:    flagOutputLimit,
			Usage:   "most output a guest may write in one call, such as 16MiB",
			Value:   sizeString(host.DefaultOutputLimit),
			EnvVars: []string{"WASMREG_OUTPUT_LIMIT"},
		},
		&cli.StringFlag{
			Name:    flagModuleLimit,
			Usage:   "largest module file accepted, such as 64MiB",
			Value:   sizeString(host.DefaultModuleSizeLimit),
			EnvVars: []string{"WASMREG_MODULE_SIZE_LIMIT"},
		},
		&cli.IntFlag{
			Name:    flagCompiles,
			Usage:   "most modules compiled at once",
			Value:   runtime.GOMAXPROCS(0),
			EnvVars: []string{"WASMREG_COMPILE_CONCURRENCY"},
		},
		&cli.DurationFlag{
			Name:    flagCompileTime,
			Usage:   "longest wait for a module's compile; a module that takes longer is refused; 0 for none",
			Value:   host.DefaultCompileTimeout,
			EnvVars: []string{"WASMREG_COMPILE_TIMEOUT"},
		},
		&cli.StringFlag{
			Name:    flagStackLimit,
			Usage:   "most guest call stack one call may use, such as 8MiB; deeper calls fail with a stack overflow",
			Value:   sizeString(host.DefaultStackLimit),
			EnvVars: []string{"WASMREG_STACK_LIMIT"},
		},
		&cli.UintFlag{
			Name:    flagTableLimit,
			Usage:   "most elements a table may have; a module declaring more is refused, and table.grow past it fails",
			Value:   host.DefaultTableLimit,
			EnvVars: []string{"WASMREG_TABLE_LIMIT"},
		},
		&cli.StringSliceFlag{
			Name: flagModuleLimits,
			Usage: "raise or lower one of the structural limits checked before a module is compiled, as NAME=N (repeatable; " +
				"names: " + strings.Join(moduleLimitNames(), ", ") + ")",
			EnvVars: []string{"WASMREG_MODULE_LIMITS"},
		},
		&cli.StringFlag{
			Name:    flagLogLine,
			Usage:   "longest guest log line; longer ones are truncated",
			Value:   sizeString(host.DefaultLogLineLimit),
			EnvVars: []string{"WASMREG_LOG_LINE_LIMIT"},
		},
		&cli.IntFlag{
			Name:    flagLogLines,
			Usage:   "most log lines one guest call may write; further ones are dropped and counted",
			Value:   host.DefaultLogLinesPerCall,
			EnvVars: []string{"WASMREG_LOG_LINES_PER_CALL"},
		},
	}
}

// loadLimits are the limit flags that decide whether a module loads at
// all: its size and structure, its declared memory and tables, and the time
// its compile and its start code may take. Commands that only load modules
// (list, inspect, validate, lock, push, pull) show these.
var loadLimits = []string{flagTimeout, flagMemoryLimit, flagModuleLimit, flagCompileTime, flagTableLimit, flagModuleLimits}

// loadLimitFlags are the limit flags of a command that only loads modules:
// limitFlags, with those that bound a running model (its requests, its
// output, its logs, the instances and memory of many models) hidden from
// its help. They are still accepted, as a module's start code runs under
// them too, so that a script may pass one set of limits to every command,
// and an error that names one of them can be acted on.
func loadLimitFlags() []cli.Flag { return limitFlagsShowing(loadLimits...) }

// limitFlagsShowing returns limitFlags with all but the flags named shown
// hidden from the help.
func limitFlagsShowing(shown ...string) []cli.Flag {
	flags := limitFlags()
	for _, f := range flags {
		if slices.Contains(shown, f.Names()[0]) {
			continue
		}
		switch f := f.(type) {
		case *cli.DurationFlag:
			f.Hidden = true
		case *cli.StringFlag:
			f.Hidden = true
		case *cli.IntFlag:
			f.Hidden = true
		case *cli.UintFlag:
			f.Hidden = true
		case *cli.StringSliceFlag:
			f.Hidden = true
		default:
			panic(fmt.Sprintf("limitFlagsShowing: cannot hide %T", f))
		}
	}
	return flags
}

// moduleLimitFields are the fields of host.ModuleLimits, by the name
// --module-limit takes: each a *uint32 or a *uint64.
func moduleLimitFields(l *host.ModuleLimits) map[string]any {
	return map[string]any{
		"Types": &l.Types, "Functions": &l.Functions, "Imports": &l.Imports, "Exports": &l.Exports,
		"Globals": &l.Globals, "MutableGlobals": &l.MutableGlobals, "Tables": &l.Tables,
		"ElementSegments": &l.ElementSegments, "DataSegments": &l.DataSegments, "ParamsResults": &l.ParamsResults,
		"LocalsPerFunction": &l.LocalsPerFunction, "Locals": &l.Locals, "FunctionBodyBytes": &l.FunctionBodyBytes,
		"InstructionsPerFunction": &l.InstructionsPerFunction, "ControlPerFunction": &l.ControlPerFunction,
		"StackHeight": &l.StackHeight, "BlockDepth": &l.BlockDepth, "LoopsPerFunction": &l.LoopsPerFunction,
		"BrTableTargets": &l.BrTableTargets, "Instructions": &l.Instructions, "CompileCost": &l.CompileCost,
	}
}

// moduleLimitNames lists what --module-limit takes, sorted.
func moduleLimitNames() []string {
	var names []string
	for name := range moduleLimitFields(&host.ModuleLimits{}) {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// parseModuleLimits parses --module-limit NAME=N values; the limits not
// named keep their defaults.
func parseModuleLimits(specs []string) (host.ModuleLimits, error) {
	var l host.ModuleLimits
	fields := moduleLimitFields(&l)
	for _, spec := range specs {
		name, value, ok := strings.Cut(spec, "=")
		n, err := strconv.ParseUint(value, 10, 64)
		if !ok || err != nil || n == 0 {
			return l, fmt.Errorf("--%s %q: want NAME=N with N a positive integer", flagModuleLimits, spec)
		}
		switch f := fields[name].(type) {
		case *uint64:
			*f = n
		case *uint32:
			if n > math.MaxUint32 {
				return l, fmt.Errorf("--%s %q: %d is over %d", flagModuleLimits, spec, n, uint32(math.MaxUint32))
			}
			*f = uint32(n)
		default:
			return l, fmt.Errorf("--%s %q: no limit %q (limits: %s)", flagModuleLimits, spec, name, strings.Join(moduleLimitNames(), ", "))
		}
	}
	return l, nil
}

// sizeString writes a byte count as exactly as a size flag takes it, in
// the largest binary unit that divides it: the flags' defaults are written
// from the host's constants with it.
func sizeString(n uint64) string {
	switch {
	case n == 0:
		return "0"
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return strconv.FormatUint(n, 10)
}

// sizeValue parses the size flag name. It only parses: what sizes an
// option accepts is the host's to say (see checkLimitFlags).
func sizeValue(cCtx *cli.Context, name string) (uint64, error) {
	n, err := ParseSize(cCtx.String(name))
	if err != nil {
		return 0, usageErrorf("--%s: %v", name, err)
	}
	return n, nil
}

// sizeFlag parses a size flag whose host option takes an int.
func sizeFlag(cCtx *cli.Context, name string) (int, error) {
	n, err := sizeValue(cCtx, name)
	if err == nil && n > math.MaxInt {
		err = usageErrorf("--%s: %s is too large", name, cCtx.String(name))
	}
	return int(n), err
}

// uint32Value converts n, the value of the flag name, for a host option
// that takes a uint32: a larger value cannot even be passed to it.
func uint32Value(cCtx *cli.Context, name string, n uint64) (uint32, error) {
	if n > math.MaxUint32 {
		return 0, usageErrorf("--%s: %v is too large", name, cCtx.Value(name))
	}
	return uint32(n), nil
}

// checkLimitFlags has the host check the values of limitFlags before a
// command uses one itself (the module size limit to read a file, the input
// limit to read requests) or reads anything: the host's options are the
// one place that knows what each accepts, and the host's error names the
// option, which oneLine words as the flag. It makes a host and closes it,
// about half a millisecond, once per run of the application; an invalid
// value fails before the runtime is made.
func checkLimitFlags(cCtx *cli.Context) error {
	st := stateOf(cCtx)
	if st.limitsChecked {
		return nil
	}
	opts, err := limitOptions(cCtx)
	if err != nil {
		return err
	}
	h, err := host.New(cCtx.Context, opts...)
	if err != nil {
		return hostOptionError(err)
	}
	st.limitsChecked = true
	return h.Close(cCtx.Context)
}

// hostOptionError makes an invalid option, which on the command line is
// always a flag's value, a usage error.
func hostOptionError(err error) error {
	if errors.Is(err, host.ErrInvalidOption) {
		return usageError{err}
	}
	return err
}

// limitOptions returns the host options set by limitFlags. It parses the
// flags' values but leaves their ranges to the host's options, which New
// checks (see checkLimitFlags).
func limitOptions(cCtx *cli.Context) ([]host.Option, error) {
	memoryLimit, err := sizeValue(cCtx, flagMemoryLimit)
	if err != nil {
		return nil, err
	}
	opts := []host.Option{
		host.WithMemoryLimit(memoryLimit),
		host.WithCallTimeout(cCtx.Duration(flagTimeout)),
		host.WithCompileTimeout(cCtx.Duration(flagCompileTime)),
		host.WithMaxInstances(cCtx.Int(flagMaxInst)),
		host.WithCompileConcurrency(cCtx.Int(flagCompiles)),
	}
	stack, err := sizeValue(cCtx, flagStackLimit)
	if err != nil {
		return nil, err
	}
	stack32, err := uint32Value(cCtx, flagStackLimit, stack)
	if err != nil {
		return nil, err
	}
	table, err := uint32Value(cCtx, flagTableLimit, uint64(cCtx.Uint(flagTableLimit)))
	if err != nil {
		return nil, err
	}
	opts = append(opts, host.WithStackLimit(stack32), host.WithTableLimit(table))
	if specs := cCtx.StringSlice(flagModuleLimits); len(specs) > 0 {
		l, err := parseModuleLimits(specs)
		if err != nil {
			return nil, usageError{err}
		}
		opts = append(opts, host.WithModuleLimits(l))
	}
	if cCtx.String(flagBudget) != "" {
		budget, err := sizeValue(cCtx, flagBudget)
		if err != nil {
			return nil, err
		}
		opts = append(opts, host.WithMemoryBudget(budget))
	}
	line, err := sizeFlag(cCtx, flagLogLine)
	if err != nil {
		return nil, err
	}
	opts = append(opts, host.WithLogLimits(line, cCtx.Int(flagLogLines)))
	for _, f := range []struct {
		name string
		opt  func(int) host.Option
	}{
		{flagInputLimit, host.WithInputLimit},
		{flagOutputLimit, host.WithOutputLimit},
		{flagModuleLimit, host.WithModuleSizeLimit},
	} {
		n, err := sizeFlag(cCtx, f.name)
		if err != nil {
			return nil, err
		}
		opts = append(opts, f.opt(n))
	}
	return opts, nil
}
