package app

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/oci"
	"github.com/wasmreg/wasmreg/internal/safetext"
)

// ValidateCommand returns the `wasmreg validate` command: checks modules
// against the guest ABI v1 and reports every problem.
func ValidateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check factory modules against the wasmreg guest ABI v1",
		ArgsUsage: "FILE.wasm [FILE.wasm...]",
		Description: "Loads each module as `wasmreg run` would, but granting nothing (a module that uses a\n" +
			"capability in its start code fails), and reports every problem found (missing or\n" +
			"mistyped exports, unknown imports, bad metadata, ...), one per line after \"✗ error:\".\n" +
			"The metadata is read even when imports or exports are wrong: in a throw-away sandbox\n" +
			"where each import the host does not provide traps when called, naming the import.\n" +
			"A module that passes is reported as\n" +
			"\"ok: NAME@VERSION speaks wasmreg ABI v1\", with the grants `wasmreg run` will need\n" +
			"and warnings about things that work but are probably mistakes. The exit status is\n" +
			"non-zero if any module fails. A module in a directory with a " + LockFile + " must be\n" +
			"listed in it, unless --" + flagAllowUnlocked + " is given.\n\n" +
			"Examples:\n" +
			"   wasmreg validate model.wasm\n" +
			"   wasmreg validate build/factories/*.wasm" + globalNote,
		Flags:           loadLimitFlags(),
		Action:          validateAction,
		OnUsageError:    onUsageError,
		HideHelpCommand: true,
	}
}

func validateAction(cCtx *cli.Context) error {
	if cCtx.NArg() == 0 {
		return usageErrorf("validate needs a FILE.wasm argument (see 'wasmreg validate --help')")
	}
	scan, err := scanFlags(cCtx)
	if err != nil {
		return err
	}
	failed := 0
	for _, path := range cCtx.Args().Slice() {
		if !validateOne(cCtx, scan, path) {
			failed++
		}
	}
	if failed > 0 {
		return cli.Exit(fmt.Sprintf("%d of %d modules failed validation", failed, cCtx.NArg()), ExitFailure)
	}
	return nil
}

// validateOne loads the module file at path on an inspection host of its
// own, pinned to what its directory's lock allows (each path may have
// another pin), writes what it found and reports whether the module is
// valid.
func validateOne(cCtx *cli.Context, scan scanOptions, path string) bool {
	w := cCtx.App.Writer
	f, h, err := loadForValidation(cCtx, scan, path)
	if h != nil {
		defer closeHost(cCtx, h)
	}
	shownPath := safetext.Line(path, maxLineShown)
	if err != nil {
		probs := problems(err)
		fmt.Fprintf(w, "%s: does not speak wasmreg ABI v%d (%s):\n", shownPath, host.ABIVersion, plural(len(probs), "problem"))
		for _, p := range probs {
			fmt.Fprintf(w, "  ✗ error: %s\n", p)
		}
		return false
	}
	fmt.Fprintf(w, "ok: %s speaks wasmreg ABI v%d (%s)\n", f.Name(), host.ABIVersion, shownPath)
	if caps := needsGrants(f.Info().Capabilities); len(caps) > 0 {
		fmt.Fprintf(w, "  needs grants: %s (wasmreg run %s)\n", strings.Join(caps, ", "), grantFlags(caps))
	} else {
		fmt.Fprintf(w, "  needs grants: none\n")
	}
	for _, warning := range warnings(f) {
		fmt.Fprintf(w, "  warning: %s\n", oneLine(warning))
	}
	return true
}

// loadForValidation reads and loads the module file at path. The caller
// closes the host, which is nil if none was made.
func loadForValidation(cCtx *cli.Context, scan scanOptions, path string) (*host.Factory, *host.Host, error) {
	var wasm []byte
	var pin digestPin
	var err error
	if oci.IsReference(path) {
		path, wasm, pin, err = ResolveFactoryRef(cCtx, path, "", scan.sizeLimit)
	} else if wasm, err = readModuleFile(path, scan.sizeLimit, true); err == nil {
		pin, err = pathPin(path, scan.allowUnlocked, "")
	}
	if err != nil {
		return nil, nil, err
	}
	h, err := newInspectionHost(cCtx, pin.options()...)
	if err != nil {
		return nil, nil, err
	}
	f, err := h.Validate(cCtx.Context, wasm)
	if need, ok := memoryProblem(err); ok {
		// The host refuses the memory before it reads the metadata: read
		// it on a host that allows that much, so that one problem does
		// not hide the others.
		err = withMetadataProblems(cCtx, err, need, wasm, pin.options())
	}
	return f, h, pin.refusal(err, path, wasm)
}

// maxValidateMemory is the most linear memory validate allows a module
// whose minimum memory is over --memory-limit, to read its metadata.
const maxValidateMemory = 1 << 30

// memoryProblem reports whether err, from Validate, refused the module
// for its minimum memory, among other problems or alone, and how many
// bytes that memory needs.
func memoryProblem(err error) (uint64, bool) {
	var me *host.ModuleError
	if !errors.As(err, &me) {
		return 0, false
	}
	for _, p := range me.Problems {
		var le *host.LimitError
		if errors.As(p, &le) && errors.Is(le.Kind, host.ErrMemoryLimit) && le.Got > 0 {
			return uint64(le.Got), uint64(le.Got) <= maxValidateMemory
		}
	}
	return 0, false
}

// withMetadataProblems validates wasm again on a host allowing need bytes
// of memory, and returns err, which refused the memory, with the problems
// that validation finds and err does not list added (the module's
// metadata), and the name it finds.
func withMetadataProblems(cCtx *cli.Context, err error, need uint64, wasm []byte, opts []host.Option) error {
	var me *host.ModuleError
	errors.As(err, &me)
	opts = append(slices.Clone(opts), host.WithMemoryLimit(need), host.WithMemoryBudget(2*need))
	h, herr := newInspectionHost(cCtx, opts...)
	if herr != nil {
		return err
	}
	defer closeHost(cCtx, h)
	f, lerr := h.Validate(cCtx.Context, wasm)
	if lerr == nil {
		// Nothing but the memory is wrong: name the module as it names itself.
		module := f.Name() + " (" + me.Module + ")"
		_ = f.Close(cCtx.Context)
		return &host.ModuleError{Module: module, Problems: me.Problems}
	}
	all := slices.Clone(me.Problems)
	module := me.Module
	seen := map[string]bool{}
	for _, p := range me.Problems {
		seen[p.Error()] = true
	}
	var more *host.ModuleError
	if errors.As(lerr, &more) {
		module = more.Module
		for _, p := range more.Problems {
			if !seen[p.Error()] { // the imports' and exports' problems, found by both
				all = append(all, p)
			}
		}
	} else {
		all = append(all, lerr)
	}
	return &host.ModuleError{Module: module, Problems: all}
}

// problems returns every problem that err reports, one message each: the
// problems of a *host.ModuleError, or err itself.
func problems(err error) []string {
	var me *host.ModuleError
	if !errors.As(err, &me) {
		return []string{errLine(err)}
	}
	out := make([]string, len(me.Problems))
	for i, p := range me.Problems {
		out[i] = errLine(p)
	}
	return out
}

// warnings returns what is legal but probably a mistake in a module that
// loads.
func warnings(f *host.Factory) []string {
	var out []string
	info := f.Info()
	imported := map[string]bool{}
	wasi := 0
	for _, imp := range f.Imports() {
		if imp.Capability != "" {
			imported[imp.Capability] = true
		}
		if imp.Module == host.WASIModule {
			wasi++
		}
	}
	for _, c := range needsGrants(info.Capabilities) {
		// The clock and random grants also make WASI's clocks and
		// random_get real, so a WASI module may list them without
		// importing the wasmreg functions.
		if imported[c] || wasi > 0 && (c == host.CapClock || c == host.CapRandom) {
			continue
		}
		out = append(out, fmt.Sprintf("metadata lists capability %q but the module imports none of its functions; "+
			"hosts must still grant it", c))
	}
	if slices.Contains(f.Exports(), "_start") {
		out = append(out, "exports _start, which wasmreg never calls: build a reactor "+
			"(Go: -buildmode=c-shared; C: -mexec-model=reactor)")
	}
	if info.Description == "" {
		out = append(out, `metadata has no "description" ('wasmreg list' shows it)`)
	}
	if len(info.ConfigSchema) == 0 {
		out = append(out, `metadata has no "config_schema" to tell users what to pass to --config`)
	}
	return out
}

// needsGrants returns the capabilities of caps that a host must grant:
// all but log, which is always granted.
func needsGrants(caps []string) []string {
	return slices.DeleteFunc(slices.Clone(caps), func(c string) bool { return c == host.CapLog })
}

// grantFlags returns the --grant flags that grant caps.
func grantFlags(caps []string) string {
	flags := make([]string, 0, len(caps))
	for _, c := range caps {
		switch c {
		case host.CapArtifact:
			flags = append(flags, "--grant artifact=NAME=FILE")
		case host.CapLog:
		default:
			flags = append(flags, "--grant "+c)
		}
	}
	return strings.Join(flags, " ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
