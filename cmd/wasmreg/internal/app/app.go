// Package app is the wasmreg command-line interface: the urfave/cli
// application, one file per command (run, list, inspect, validate, lock,
// bench, whose engine and report are benchrun.go and benchreport.go), the
// status line run and bench draw on a terminal (progress.go), and the flag
// handling they share. It is the only part of wasmreg that reads flags
// and environment variables; everything it does with WebAssembly goes
// through package host.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/oci"
	"github.com/wasmreg/wasmreg/internal/safetext"
)

// Exit statuses of the wasmreg command.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // a command failed: a load, a build, a request
	ExitUsage   = 2 // the command line was wrong: unknown flag, missing argument

	// ExitInterrupted is the status of a command stopped by an interrupt
	// or terminate signal, as shells report a process killed by SIGINT.
	ExitInterrupted = 130
)

// DefaultDir is the default factories directory (--dir).
const DefaultDir = "./build/factories"

// globalNote ends the description of every command: global flags work
// after the command name too, and its help does not list them.
const globalNote = "\n\nGlobal options (--dir, --cache-dir, --no-cache, --log-level, --log-format) may\n" +
	"also be given after the command; see 'wasmreg --help'."

// Main runs the wasmreg command with args (os.Args), reading requests from
// stdin and writing to stdout and stderr, and returns the exit status.
// Errors are written to stderr as one line, "wasmreg: <message>"; a panic
// is reported the same way rather than as a stack trace. An interrupt or
// terminate signal cancels the running command, stopping any guest call; a
// second one exits the process at once with [ExitInterrupted], whatever is
// still running.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) (status int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "wasmreg: internal error: %s\n", safetext.Line(fmt.Sprint(r), maxLineShown))
			status = ExitFailure
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := watchSignals(cancel, stderr, os.Exit)
	defer stop()

	a := New(stdin, stdout, stderr)
	args, err := ReorderArgs(a, args)
	if err == nil {
		err = CheckArgs(a, args, os.LookupEnv)
	}
	if err == nil {
		err = a.RunContext(ctx, args)
	}
	var ec cli.ExitCoder
	if err != nil && ctx.Err() != nil && !(errors.As(err, &ec) && ec.ExitCode() == ExitInterrupted) {
		err = cli.Exit("interrupted", ExitInterrupted) // whatever failed, it failed because of the signal
	}
	return report(stderr, err)
}

// New returns the wasmreg application reading standard input from stdin and
// writing to stdout and stderr. Its commands return errors rather than
// exiting: [Main] turns them into an exit status. Run it with arguments
// passed through [ReorderArgs], as Main does, so that flags may follow
// positional arguments.
func New(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:  "wasmreg",
		Usage: "run sandboxed WebAssembly model factories",
		UsageText: "wasmreg [global options] command [options] [arguments...]\n\n" +
			"Flags may come before or after arguments; \"--\" ends them.",
		Description: "Factories are WebAssembly modules speaking the wasmreg guest ABI v1 (docs/ABI.md).\n" +
			"Logs go to standard error; at the default level, warn, guest log lines stay quiet.\n\n" +
			"Examples:\n" +
			"   wasmreg run                                   # the built-in demo: a digits classifier\n" +
			"   wasmreg run model.wasm --config '{\"a\":1}' < requests.txt\n" +
			"   wasmreg list --dir build/factories\n" +
			"   wasmreg inspect model.wasm\n" +
			"   wasmreg validate model.wasm",
		Version:                   version(),
		Metadata:                  map[string]any{stateKey: &appState{}},
		Reader:                    stdin,
		Writer:                    stdout,
		ErrWriter:                 stderr,
		Flags:                     globalFlags(),
		Commands:                  []*cli.Command{RunCommand(), ListCommand(), InspectCommand(), ValidateCommand(), LockCommand(), BenchCommand(), PushCommand(), PullCommand(), ServeCommand()},
		Before:                    checkGlobalFlags,
		Action:                    rootAction,
		OnUsageError:              onUsageError,
		ExitErrHandler:            func(*cli.Context, error) {}, // Main reports errors and exits
		DisableSliceFlagSeparator: true,                         // --grant artifact=w=a,b.bin is one file
	}
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// defaultCacheDir is where wazero's compiled code is kept between runs:
// the user's cache directory, or none if the system has none.
func defaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "wasmreg")
}

func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{
			Name:    flagDir,
			Usage:   "directory of factory modules (*.wasm) that names are looked up in",
			Value:   DefaultDir,
			EnvVars: []string{"WASMREG_DIR"},
		},
		&cli.StringFlag{
			Name:    flagCacheDir,
			Usage:   "directory of wazero's compilation cache and of the host's load cache, so that a module is read, rewritten and compiled once across runs; \"\" disables it",
			Value:   defaultCacheDir(),
			EnvVars: []string{"WASMREG_CACHE_DIR"},
		},
		&cli.BoolFlag{
			Name:    flagAllowUnlocked,
			Usage:   "load modules of --dir that its " + LockFile + " does not list, or whose sha256 changed",
			EnvVars: []string{"WASMREG_ALLOW_UNLOCKED"},
		},
		&cli.BoolFlag{
			Name:    flagPlainHTTP,
			Usage:   "talk plain HTTP to OCI registries (loopback registries always are)",
			EnvVars: []string{"WASMREG_PLAIN_HTTP"},
		},
		&cli.DurationFlag{
			Name: flagRegistryTimeout,
			Usage: "time limit of each OCI registry operation (a push, a pull, a tag's resolution), " +
				"every request, retry and download of it included",
			Value:   oci.DefaultTimeout,
			EnvVars: []string{"WASMREG_REGISTRY_TIMEOUT"},
		},
		&cli.BoolFlag{
			Name:    flagNoCache,
			Usage:   "do not use the compilation cache",
			EnvVars: []string{"WASMREG_NO_CACHE"},
		},
		&cli.StringFlag{
			Name: flagLogLevel,
			Usage: "least level of the logs written to standard error: debug, info, warn or error " +
				"(guest log lines are mostly debug and info, so warn keeps them quiet)",
			Value:   "warn",
			EnvVars: []string{"WASMREG_LOG_LEVEL"},
		},
		&cli.StringFlag{
			Name:    flagLogFormat,
			Usage:   "format of the logs: text or json",
			Value:   "text",
			EnvVars: []string{"WASMREG_LOG_FORMAT"},
		},
	}
}

// checkGlobalFlags rejects bad global flag values before any command runs.
func checkGlobalFlags(cCtx *cli.Context) error {
	if d := cCtx.Duration(flagRegistryTimeout); d <= 0 {
		return usageErrorf("--%s: %v: want a positive duration such as 30s or 2m", flagRegistryTimeout, d)
	}
	_, err := newLogger(cCtx, io.Discard)
	return err
}

// newLogger returns the logger that --log-level and --log-format ask for,
// writing to w.
func newLogger(cCtx *cli.Context, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cCtx.String(flagLogLevel))); err != nil {
		return nil, usageErrorf("--%s: %q is not one of debug, info, warn, error", flagLogLevel, cCtx.String(flagLogLevel))
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f := strings.ToLower(cCtx.String(flagLogFormat)); f {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, usageErrorf("--%s: %q is not one of text, json", flagLogFormat, f)
	}
}

// appState is what one run of the application learns as it goes. It is
// used by the command's goroutine only.
type appState struct {
	noCache       bool // the compilation cache was refused, and the user warned
	limitsChecked bool // the host accepted the limit flags (checkLimitFlags)
}

const stateKey = "wasmreg.state"

// stateOf returns the state of the application cCtx runs (a fresh one for
// an App not made by New).
func stateOf(cCtx *cli.Context) *appState {
	if st, ok := cCtx.App.Metadata[stateKey].(*appState); ok {
		return st
	}
	st := &appState{}
	if cCtx.App.Metadata == nil {
		cCtx.App.Metadata = map[string]any{}
	}
	cCtx.App.Metadata[stateKey] = st
	return st
}

// hostOptions returns the options every command's host shares: the logger
// writing to logs, the compilation cache, and the limits of limitFlags.
func hostOptions(cCtx *cli.Context, logs io.Writer) ([]host.Option, error) {
	logger, err := newLogger(cCtx, logs)
	if err != nil {
		return nil, err
	}
	opts, err := limitOptions(cCtx)
	if err != nil {
		return nil, err
	}
	opts = append(opts, host.WithLogger(logger))
	if dir := cCtx.String(flagCacheDir); dir != "" && !cCtx.Bool(flagNoCache) && !stateOf(cCtx).noCache {
		// The cache only saves time: without a usable directory, compile.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			logger.Warn("compilation cache disabled", "dir", dir, "error", err)
		} else {
			opts = append(opts, host.WithCompilationCacheDir(dir))
		}
	}
	return opts, nil
}

// newHost returns a host with the shared options and extra ones, logging
// to the app's standard error.
func newHost(cCtx *cli.Context, extra ...host.Option) (*host.Host, error) {
	return openHost(cCtx, cCtx.App.ErrWriter, extra...)
}

// newInspectionHost returns a host for looking at modules: it grants
// nothing but extra's grants, yet loads a module that needs more, so that
// reading a module's metadata runs its start code with no capability the
// user did not grant.
func newInspectionHost(cCtx *cli.Context, extra ...host.Option) (*host.Host, error) {
	return newHost(cCtx, append([]host.Option{host.WithUngrantedImports()}, extra...)...)
}

// openHost returns a host with the shared options and extra ones, logging
// to logs. If the host refuses the compilation cache directory as unsafe,
// it warns once and goes on without the cache: the cache only saves time.
func openHost(cCtx *cli.Context, logs io.Writer, extra ...host.Option) (*host.Host, error) {
	opts, err := hostOptions(cCtx, logs)
	if err != nil {
		return nil, err
	}
	h, err := host.New(cCtx.Context, append(opts, extra...)...)
	if errors.Is(err, host.ErrUnsafeCacheDir) {
		warnf(cCtx.App.ErrWriter, "compilation cache disabled: %w", err)
		stateOf(cCtx).noCache = true
		if opts, err = hostOptions(cCtx, logs); err != nil {
			return nil, err
		}
		h, err = host.New(cCtx.Context, append(opts, extra...)...)
	}
	return h, hostOptionError(err)
}

// closeHost closes h, reporting a failure as a warning: the command's work
// is done by then.
func closeHost(cCtx *cli.Context, h *host.Host) {
	if err := h.Close(context.Background()); err != nil {
		warnf(cCtx.App.ErrWriter, "%w", err)
	}
}

// rootAction runs when no command is given: it shows the help, or reports
// an unknown command.
func rootAction(cCtx *cli.Context) error {
	if cCtx.Args().Present() {
		return usageErrorf("unknown command %q (see 'wasmreg --help')", cCtx.Args().First())
	}
	return cli.ShowAppHelp(cCtx)
}

// onUsageError turns urfave/cli's flag parsing errors into usage errors
// that name the command and point at its help.
func onUsageError(cCtx *cli.Context, err error, _ bool) error {
	name := "wasmreg"
	if cCtx.Command != nil && cCtx.Command.Name != "" && cCtx.Command.Name != cCtx.App.Name {
		name += " " + cCtx.Command.Name
	}
	return usageErrorf("%v (see '%s --help')", err, name)
}

// usageError is a wrong command line: it exits with ExitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// report writes err as one line to stderr and returns the exit status.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	status := ExitFailure
	var ue usageError
	var ec cli.ExitCoder
	switch {
	case errors.As(err, &ue):
		status = ExitUsage
	case errors.As(err, &ec):
		status = ec.ExitCode()
		if status == ExitOK {
			status = ExitFailure
		}
		// `wasmreg help bogus`: urfave/cli's own error, a cli.Exit with
		// status 3 and no type of its own, so its text is the only way to
		// tell it; it is neither the host's nor wazero's.
		if strings.HasPrefix(err.Error(), "No help topic") {
			status = ExitUsage
		}
	}
	if msg := errLine(err); msg != "" {
		fmt.Fprintf(stderr, "wasmreg: %s\n", msg)
	}
	return status
}

// oneLine joins the lines of a multi-line message (errors.Join separates
// errors with newlines) so that every error is one line of standard error,
// and escapes whatever could drive a terminal: an error may quote a
// module's names or a guest's message.
func oneLine(msg string) string {
	msg = strings.TrimSpace(strings.ReplaceAll(msg, "\r\n", "\n"))
	return safetext.Line(strings.ReplaceAll(msg, "\n", "; "), maxLineShown)
}

// errLine is err's message on one line (see oneLine), worded in this
// command's flags (see cliWords).
func errLine(err error) string { return oneLine(cliWords(err)) }

// cliWords is err's message with the host's advice, written for Go
// callers, worded in this command's flags: each *host.LimitError in err's
// tree says "raise it with --flag" and each *host.OptionError names the
// flag. The host's text is not read: each typed error's own message is
// replaced by the one it words with the flag.
func cliWords(err error) string {
	msg := err.Error()
	walkErrors(err, func(e error) {
		var from, to string
		switch e := e.(type) {
		case *host.LimitError:
			if flag, ok := limitFlag(e); ok {
				from, to = e.Error(), e.Advise(flag)
			}
		case *host.OptionError:
			if flag, ok := optionFlag(e.Option); ok {
				from, to = e.Error(), e.Advise(flag)
			}
		}
		if from != "" {
			msg = strings.ReplaceAll(msg, from, to)
		}
	})
	return msg
}

// walkErrors calls fn on err and every error in its tree.
func walkErrors(err error, fn func(error)) {
	if err == nil {
		return
	}
	fn(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walkErrors(u.Unwrap(), fn)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walkErrors(e, fn)
		}
	}
}

// limitFlag is the flag that raises the limit of e.
func limitFlag(e *host.LimitError) (string, bool) {
	if e.Option == "WithModuleLimits" {
		return "--" + flagModuleLimits + " " + e.Field, e.Field != ""
	}
	return optionFlag(e.Option)
}

// optionFlag is the flag that sets the host option named option.
func optionFlag(option string) (string, bool) {
	for _, o := range optionFlags {
		if o.option == option {
			return o.flag, true
		}
	}
	return "", false
}

// optionFlags maps the host options that the host's errors name to the
// flags that set them.
var optionFlags = []struct{ option, flag string }{
	{"WithCallTimeout", "--" + flagTimeout},
	{"WithMemoryLimit", "--" + flagMemoryLimit},
	{"WithMaxInstances", "--" + flagMaxInst},
	{"WithMemoryBudget", "--" + flagBudget},
	{"WithInputLimit", "--" + flagInputLimit},
	{"WithOutputLimit", "--" + flagOutputLimit},
	{"WithModuleSizeLimit", "--" + flagModuleLimit},
	{"WithCompileConcurrency", "--" + flagCompiles},
	{"WithCompileTimeout", "--" + flagCompileTime},
	{"WithStackLimit", "--" + flagStackLimit},
	{"WithTableLimit", "--" + flagTableLimit},
	{"WithLogLimits", "--" + flagLogLine + " or --" + flagLogLines},
	{"WithGrants", "--" + flagGrant},
	{"WithPinnedDigests", "--" + flagSHA256},
}

// warnf writes one warning line to w.
func warnf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "wasmreg: warning: %s\n", errLine(fmt.Errorf(format, args...)))
}
