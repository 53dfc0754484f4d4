package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/safetext"
)

// Names of the flags of `wasmreg run`.
const (
	flagConfig = "config"
	flagInput  = "input"
	flagGrant  = "grant"
	flagSHA256 = "sha256"
)

// RunCommand returns the `wasmreg run` command: build a model from a
// factory and answer requests with it, one per line; without a factory,
// the built-in demo.
func RunCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "build a model from a factory and answer requests, one per line",
		ArgsUsage: "[FACTORY]",
		Description: "FACTORY is a .wasm file, or the name of a factory in --dir (case-insensitive;\n" +
			"NAME@VERSION, or a bare NAME for its highest version). The model is built with --config\n" +
			"(JSON, or @FILE to read it from a file; default {}), then every line of --input (default:\n" +
			"standard input) is one request; blank lines are skipped. Each response is written to\n" +
			"standard output on one line, in order. A response that spans lines is compacted if it\n" +
			"is JSON; otherwise its backslashes, CRs and LFs are escaped as \\\\, \\r and \\n. A failed\n" +
			"request writes nothing to standard output and \"line N: <error>\" to standard error,\n" +
			"and the run goes on; if the failure closed the model (a trap, a timeout), it is built\n" +
			"again for the next request. The exit status is non-zero if the build or any request failed.\n" +
			"When standard output is a terminal, control, C1 and bidi characters of responses are\n" +
			"escaped (\\xNN, \\uNNNN) so that a factory cannot drive the terminal; to a pipe or a file\n" +
			"responses are written exactly.\n\n" +
			"Capabilities are denied unless granted: --grant clock, --grant random (or random=SEED\n" +
			"for reproducible runs), --grant artifact=NAME=FILE (repeatable). --sha256 refuses a\n" +
			"module whose digest differs, before anything is compiled; a NAME is then looked up among\n" +
			"the modules with that digest only. A second interrupt (Ctrl-C) exits at once.\n\n" +
			"Without FACTORY, run runs the built-in demo: a small neural network, trained on\n" +
			"handwritten digits, classifies a few held-out ones.\n\n" +
			"Examples:\n" +
			"   wasmreg run\n" +
			"   echo '[1,2,3]' | wasmreg run scale.wasm --config '{\"factor\":2}'\n" +
			"   wasmreg run mlp --config @mlp.json --input requests.txt --grant random --grant artifact=weights=w.bin\n" +
			"   wasmreg run model.wasm --sha256 $(sha256sum model.wasm | cut -d' ' -f1) < requests.txt" + globalNote,
		Flags: slices.Concat(factoryFlagDefs(), []cli.Flag{
			&cli.StringFlag{Name: flagInput, Usage: "file of requests, one per line; - for standard input", DefaultText: "-"},
		}, limitFlags()),
		Action:          runAction,
		OnUsageError:    onUsageError,
		HideHelpCommand: true, // `wasmreg run help` runs a factory named help
	}
}

func runAction(cCtx *cli.Context) error {
	switch cCtx.NArg() {
	case 0:
		for _, f := range []string{flagConfig, flagInput, flagGrant, flagSHA256} {
			if cCtx.IsSet(f) {
				return usageErrorf("--%s needs a FACTORY argument; without one, run runs the built-in demo (see 'wasmreg run --help')", f)
			}
		}
		return runDemo(cCtx)
	case 1:
	default:
		return usageErrorf("run takes one FACTORY argument, got %d: %s; requests are read from --input or standard input (see 'wasmreg run --help')",
			cCtx.NArg(), strings.Join(cCtx.Args().Slice(), " "))
	}

	// Check everything the user typed before loading anything.
	ff, err := readFactoryFlags(cCtx)
	if err != nil {
		return err
	}
	in, err := openInput(cCtx)
	if err != nil {
		return err
	}
	defer in.Close()
	mod, err := ff.module(cCtx)
	if err != nil {
		return err
	}

	var prog *progress
	if showsProgress(cCtx.App.ErrWriter) && !in.term {
		prog = newProgress(cCtx.App.ErrWriter, in.size)
	}
	stderr := prog.Writer(cCtx.App.ErrWriter)
	resumeGC := pauseGC(startupHeapLimit(len(mod.wasm), memoryLimit(cCtx)))
	defer resumeGC()
	h, f, err := ff.load(cCtx, stderr, mod)
	if err != nil {
		return err
	}
	defer closeHost(cCtx, h)
	build := func() (*host.Model, error) {
		m, err := f.BuildModel(cCtx.Context, ff.config)
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", f.Name(), err)
		}
		return m, nil
	}
	m, err := build()
	resumeGC() // the requests' garbage is the collector's again
	if err != nil {
		return err
	}

	maxRequest, err := sizeFlag(cCtx, flagInputLimit)
	if err != nil {
		return err
	}
	b := &batch{ctx: cCtx.Context, model: m, build: build, stderr: stderr, prog: prog,
		escape: isTerminal(cCtx.App.Writer), maxRequest: maxRequest}
	out := bufio.NewWriterSize(cCtx.App.Writer, 64<<10)
	answered, failed, err := b.serve(bufio.NewReaderSize(in.r, 64<<10), out)
	prog.done()
	if b.model != nil {
		_ = b.model.Close(context.Background())
	}
	if flushErr := out.Flush(); err == nil && flushErr != nil {
		err = fmt.Errorf("write standard output: %w", flushErr)
	}
	switch {
	case cCtx.Context.Err() != nil:
		return cli.Exit("interrupted after "+plural(answered+failed, "request"), ExitInterrupted)
	case err != nil:
		return err
	case failed > 0:
		return cli.Exit(fmt.Sprintf("%d of %d requests failed", failed, answered+failed), ExitFailure)
	}
	return nil
}

// factoryFlagDefs declares the flags that factoryFlags reads.
func factoryFlagDefs() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagConfig, Usage: "build configuration: JSON, or @FILE", DefaultText: "{}"},
		&cli.StringSliceFlag{Name: flagGrant, Usage: "grant a capability: " + grantable() + " (repeatable)"},
		&cli.StringFlag{Name: flagSHA256, Usage: "refuse to load the module unless its sha256 is `HEX`"},
	}
}

// factoryFlags are the flags of run and bench that say which module to
// load and how to build it, read and checked before anything is loaded.
type factoryFlags struct {
	grants     Grants
	grantOpts  []host.Option
	config     []byte
	wantDigest string // "" without --sha256
}

func readFactoryFlags(cCtx *cli.Context) (factoryFlags, error) {
	var ff factoryFlags
	err := checkLimitFlags(cCtx)
	if err != nil {
		return ff, err
	}
	if ff.grants, err = ParseGrants(cCtx.StringSlice(flagGrant)); err != nil {
		return ff, usageError{err}
	}
	if ff.config, err = readConfig(cCtx); err != nil {
		return ff, err
	}
	if ff.wantDigest, err = parseDigest(cCtx.String(flagSHA256)); err != nil {
		return ff, err
	}
	ff.grantOpts, err = ff.grants.Options()
	return ff, err
}

// module finds the module the command's FACTORY argument names, with the
// pin (--sha256, lock files) that load gives its host.
func (ff factoryFlags) module(cCtx *cli.Context) (foundModule, error) {
	return findModule(cCtx, moduleRequest{arg: cCtx.Args().First(), digest: ff.wantDigest, grants: ff.grantOpts})
}

// load makes a host with the command's options, the grants and the
// module's pin, and loads the module with it: the host refuses a module
// whose sha256 the pin does not allow before compiling it, and the error
// then names the file and both digests. When the module needs a
// capability that was not granted, the error says which and the flags that
// grant them. The caller closes the host.
func (ff factoryFlags) load(cCtx *cli.Context, logs io.Writer, mod foundModule) (*host.Host, *host.Factory, error) {
	path, wasm, pin := mod.path, mod.wasm, mod.pin.options()
	h, err := openHost(cCtx, logs, append(slices.Clone(ff.grantOpts), pin...)...)
	if err != nil {
		return nil, nil, err
	}
	f, err := h.Load(cCtx.Context, wasm)
	if err == nil {
		return h, f, nil
	}
	closeHost(cCtx, h)
	switch {
	case errors.Is(err, host.ErrDigestMismatch):
		return nil, nil, mod.pin.refusal(err, path, wasm)
	case errors.Is(err, host.ErrNotGranted):
		if name, missing := missingGrants(cCtx, wasm, ff.grants, pin); len(missing) > 0 {
			return nil, nil, fmt.Errorf("load %s: %s needs capabilities that were not granted: %s (add %s)",
				path, name, strings.Join(missing, ", "), grantFlags(missing))
		}
	}
	return nil, nil, fmt.Errorf("load %s: %w", path, err)
}

// missingGrants loads wasm on a host that grants nothing but accepts what
// needs more, and is pinned as the first load was, to say which
// capabilities it needs beyond grants. It returns no capabilities if that
// load fails too (its start code used one, say): the caller then reports
// the original error.
func missingGrants(cCtx *cli.Context, wasm []byte, grants Grants, pin []host.Option) (name string, missing []string) {
	h, err := openHost(cCtx, io.Discard, append([]host.Option{host.WithUngrantedImports()}, pin...)...)
	if err != nil {
		return "", nil
	}
	defer closeHost(cCtx, h)
	f, err := h.Load(cCtx.Context, wasm)
	if err != nil {
		return "", nil
	}
	for _, c := range needsGrants(f.Info().Capabilities) {
		if !slices.Contains(grants.Capabilities, c) {
			missing = append(missing, c)
		}
	}
	return f.Name(), missing
}

// readConfig returns the build configuration of --config: the flag's value,
// or the contents of the file after "@", checked to be JSON.
func readConfig(cCtx *cli.Context) ([]byte, error) {
	if !cCtx.IsSet(flagConfig) {
		return []byte("{}"), nil
	}
	v := cCtx.String(flagConfig)
	config, what := []byte(v), "--"+flagConfig
	if file, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--%s: read config file: %w", flagConfig, err)
		}
		config, what = b, fmt.Sprintf("--%s file %s", flagConfig, file)
	}
	config = bytes.TrimSpace(config)
	if len(config) == 0 {
		return nil, usageErrorf("%s is empty; give a JSON value such as '{}'", what)
	}
	var v2 any
	if err := json.Unmarshal(config, &v2); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, usageErrorf("%s is not valid JSON: %v (at byte %d)", what, err, se.Offset)
		}
		return nil, usageErrorf("%s is not valid JSON: %v", what, err)
	}
	return config, nil
}

// parseDigest checks the value of --sha256: 64 hex digits, optionally after
// "sha256:". It returns the digest in lower case, or "" if none is given.
func parseDigest(s string) (string, error) {
	s = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "sha256:"))
	if s == "" {
		return "", nil
	}
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		return "", usageErrorf("--%s: %q is not a sha256 digest (64 hex digits)", flagSHA256, s)
	}
	return s, nil
}

// input is where requests come from.
type input struct {
	r     io.Reader // returns the context's error once it is done, even while a read blocks
	size  int64     // bytes, if known (a regular file); else 0
	term  bool      // a terminal
	close func() error
}

func (in input) Close() error { return in.close() }

// openInput opens --input, or the app's standard input for "" and "-".
func openInput(cCtx *cli.Context) (input, error) {
	name := cCtx.String(flagInput)
	if name == "" || name == "-" {
		r := cCtx.App.Reader
		return input{r: readerWithContext(cCtx.Context, r), size: regularSize(r), term: isTerminal(r),
			close: func() error { return nil }}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return input{}, fmt.Errorf("--%s: %w", flagInput, err)
	}
	return input{r: readerWithContext(cCtx.Context, f), size: regularSize(f), term: isTerminal(f), close: f.Close}, nil
}

// regularSize returns the size of r if it is a regular file, else 0.
func regularSize(r io.Reader) int64 {
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			return st.Size()
		}
	}
	return 0
}

// batch answers the requests of one run with one model.
type batch struct {
	ctx    context.Context
	model  *host.Model // nil after a failure closed it, until the next request
	build  func() (*host.Model, error)
	stderr io.Writer
	prog   *progress
	escape bool // responses go to a terminal: escape what could drive it
	// maxRequest is the longest request line: the host's input limit
	// (--input-limit).
	maxRequest int
}

// serve answers every line of r, writing responses to out, and returns how
// many requests were answered and how many failed. It stops early only if
// the model cannot be built again, reading fails, or the context is done.
func (b *batch) serve(r *bufio.Reader, out *bufio.Writer) (answered, failed int, err error) {
	var read int64
	for lineNo := 1; ; lineNo++ {
		line, n, tooLong, err := readLine(r, b.maxRequest)
		read += int64(n)
		if n == 0 && err == io.EOF {
			return answered, failed, nil
		}
		if err != nil && err != io.EOF {
			return answered, failed, fmt.Errorf("read requests: line %d: %w", lineNo, err)
		}
		switch {
		case tooLong:
			failed++
			fmt.Fprintf(b.stderr, "line %d: request is longer than %d bytes, the input limit (--%s)\n", lineNo, b.maxRequest, flagInputLimit)
		case len(bytes.TrimSpace(line)) == 0:
			// Blank lines are skipped, but counted for the line numbers.
		default:
			resp, perr := b.predict(lineNo, line)
			if b.ctx.Err() != nil {
				return answered, failed, b.ctx.Err()
			}
			if perr != nil {
				var fatal fatalError
				if errors.As(perr, &fatal) {
					return answered, failed + 1, fatal.err
				}
				failed++
				fmt.Fprintf(b.stderr, "line %d: %s\n", lineNo, errLine(perr))
			} else {
				answered++
				line := responseLine(resp)
				if b.escape {
					out.WriteString(safetext.LineBytes(line, 0))
				} else {
					out.Write(line)
				}
				out.WriteByte('\n')
			}
		}
		// Flush when no more input is at hand, so that interactive use and
		// pipes see each answer at once without a write per line in a batch.
		if r.Buffered() == 0 {
			if err := out.Flush(); err != nil {
				return answered, failed, fmt.Errorf("write standard output: %w", err)
			}
		}
		b.prog.update(read, answered, failed)
		if err == io.EOF {
			return answered, failed, nil
		}
	}
}

// fatalError stops a run: the model could not be built again.
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }

// predict answers one request, building the model again first if a
// failure closed it.
func (b *batch) predict(lineNo int, req []byte) ([]byte, error) {
	if b.model == nil {
		warnf(b.stderr, "building the model again for line %d: an earlier failure closed it", lineNo)
		m, err := b.build()
		if err != nil {
			return nil, fatalError{err}
		}
		b.model = m
	}
	resp, err := b.model.Predict(b.ctx, req)
	if err != nil && closesModel(err) {
		_ = b.model.Close(context.Background())
		b.model = nil
	}
	return resp, err
}

// closesModel reports whether a failed Predict closed its model: every
// guest failure does but a non-zero return (docs/ABI.md §2).
func closesModel(err error) bool {
	var ce *host.CallError
	if errors.As(err, &ce) {
		return !errors.Is(ce.Kind, host.ErrGuest)
	}
	return errors.Is(err, host.ErrModelClosed)
}

// readLine reads one line of at most max bytes, without its "\n" or
// "\r\n". n is how many bytes it consumed. A longer line is consumed to its
// end and reported as tooLong, without its contents.
func readLine(r *bufio.Reader, max int) (line []byte, n int, tooLong bool, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		n += len(chunk)
		if !tooLong {
			if len(line)+len(chunk) > max+2 { // room for "\r\n"
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if tooLong {
			return nil, n, true, err
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > max {
			return nil, n, true, err
		}
		return line, n, false, err
	}
}

// responseLine returns resp as one line of output: as it is if it has no
// line break; compacted if it is JSON (JSON strings cannot hold raw line
// breaks, so compact JSON is one line); else with "\" escaped as "\\" and
// CR and LF as "\r" and "\n".
func responseLine(resp []byte) []byte {
	if !bytes.ContainsAny(resp, "\r\n") {
		return resp
	}
	if json.Valid(resp) {
		var b bytes.Buffer
		if json.Compact(&b, resp) == nil {
			return b.Bytes()
		}
	}
	r := strings.NewReplacer(`\`, `\\`, "\r", `\r`, "\n", `\n`)
	return []byte(r.Replace(string(resp)))
}
