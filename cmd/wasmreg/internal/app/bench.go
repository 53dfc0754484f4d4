package app

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// Names of the flags of `wasmreg bench` that run does not have.
const (
	flagConcurrency = "concurrency"
	flagDuration    = "duration"
)

// Defaults of `wasmreg bench`.
const (
	defaultBenchDuration = 10 * time.Second

	// maxLatencySamples bounds the latencies kept per phase (8 bytes
	// each): beyond it, a uniform sample of them is kept.
	maxLatencySamples = 1_000_000
)

// BenchCommand returns the `wasmreg bench` command: build models from a
// factory and send them requests from several goroutines for a while, and
// report throughput and latency percentiles, to size a deployment.
func BenchCommand() *cli.Command {
	return &cli.Command{
		Name:      "bench",
		Usage:     "measure how fast a factory builds models and answers requests",
		ArgsUsage: "FACTORY",
		Description: "Sizes a deployment of FACTORY (a .wasm file, or a factory name in --dir, as for run).\n" +
			"The run lasts --duration, in two halves. In the first, --concurrency workers each\n" +
			"build a model with --config and close it, again and again. In the second, each\n" +
			"worker builds one model, then sends it requests in a loop: the lines of --input\n" +
			"(default: standard input), in turn; blank lines are skipped and at least one request\n" +
			"is needed. An operation under way when a half ends runs to its end (each is bounded\n" +
			"by --timeout).\n\n" +
			"The report, on standard output, gives for builds and for predictions how many\n" +
			"succeeded, how many failed, the successful ones per second, and their latency:\n" +
			"p50, p90 and p99 (nearest rank) and the maximum. A failure counts as an error, and\n" +
			"the first one is shown; if it closed the model (a trap, a timeout), the worker\n" +
			"builds it again and goes on. The exit status is non-zero if any operation failed.\n" +
			"One model is built before the run starts: if that build fails (a config the factory\n" +
			"refuses), bench stops at once with that build's error.\n" +
			"Ctrl-C stops the run early and reports what was measured so far.\n\n" +
			"Capabilities are granted as for run: --grant clock, --grant random[=SEED],\n" +
			"--grant artifact=NAME=FILE.\n\n" +
			"Examples:\n" +
			"   wasmreg bench echo.wasm --input requests.txt\n" +
			"   wasmreg bench scale.wasm --config '{\"factor\":2}' --concurrency 8 --duration 30s < requests.txt\n" +
			"   head -1 examples/digits/heldout.csv | cut -d, -f1-64 | sed 's/.*/[&]/' > digit.txt\n" +
			"   wasmreg bench mlp --grant random --grant artifact=digits=examples/digits/digits.weights \\\n" +
			"       --config '{\"weights\":\"digits\"}' --input digit.txt" + globalNote,
		Flags: slices.Concat(factoryFlagDefs(), []cli.Flag{
			&cli.StringFlag{Name: flagInput, Usage: "file of requests, one per line, sent in turn; - for standard input", DefaultText: "-"},
			&cli.IntFlag{Name: flagConcurrency, Usage: "workers building and predicting at once, each with its own model", DefaultText: "GOMAXPROCS"},
			&cli.DurationFlag{Name: flagDuration, Usage: "length of the run: half building, half predicting", Value: defaultBenchDuration},
		}, limitFlags()),
		Action:          benchAction,
		OnUsageError:    onUsageError,
		HideHelpCommand: true, // `wasmreg bench help` benchmarks a factory named help
	}
}

func benchAction(cCtx *cli.Context) error {
	switch cCtx.NArg() {
	case 0:
		return usageErrorf("bench needs a FACTORY argument: a .wasm file or a factory name (see 'wasmreg bench --help')")
	case 1:
	default:
		return usageErrorf("bench takes one FACTORY argument, got %d: %s; requests are read from --input or standard input (see 'wasmreg bench --help')",
			cCtx.NArg(), strings.Join(cCtx.Args().Slice(), " "))
	}

	// Check everything the user typed before loading anything.
	concurrency := runtime.GOMAXPROCS(0)
	if cCtx.IsSet(flagConcurrency) {
		concurrency = cCtx.Int(flagConcurrency)
		if concurrency < 1 {
			return usageErrorf("--%s: %d is not positive", flagConcurrency, concurrency)
		}
	}
	if maxInst := cCtx.Int(flagMaxInst); maxInst >= 1 && concurrency > maxInst {
		return usageErrorf("--%s %d is more than --%s %d: each worker keeps a model alive",
			flagConcurrency, concurrency, flagMaxInst, maxInst)
	}
	duration := cCtx.Duration(flagDuration)
	if duration <= 0 {
		return usageErrorf("--%s: %s is not positive", flagDuration, duration)
	}
	ff, err := readFactoryFlags(cCtx)
	if err != nil {
		return err
	}
	inputLimit, err := sizeFlag(cCtx, flagInputLimit)
	if err != nil {
		return err
	}
	requests, err := readRequests(cCtx, inputLimit)
	if err != nil {
		return err
	}
	mod, err := ff.module(cCtx)
	if err != nil {
		return err
	}

	var bar *benchBar
	if showsProgress(cCtx.App.ErrWriter) {
		bar = newBenchBar(cCtx.App.ErrWriter, duration)
	}
	h, f, err := ff.load(cCtx, bar.Writer(cCtx.App.ErrWriter), mod)
	if err != nil {
		return err
	}
	defer closeHost(cCtx, h)

	build := func(ctx context.Context) (benchModel, error) {
		m, err := f.BuildModel(ctx, ff.config)
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", f.Name(), err)
		}
		return m, nil
	}
	// One build first: a config that the factory refuses would otherwise
	// fail every build of the run, for the whole --duration.
	m, err := build(cCtx.Context)
	if err != nil {
		return fmt.Errorf("bench stopped at the first build, before the run: %w", err)
	}
	_ = m.Close(context.Background())

	b := &bench{
		build:       build,
		closes:      closesModel,
		requests:    requests,
		concurrency: concurrency,
		buildTime:   duration / 2,
		predictTime: duration - duration/2,
		maxSamples:  maxLatencySamples,
	}
	bar.start(b.counts)
	res := b.run(cCtx.Context)
	bar.stop()

	rep := benchReport{
		factory:     f.Name(),
		digest:      f.Digest(),
		path:        mod.path,
		concurrency: concurrency,
		gomaxprocs:  runtime.GOMAXPROCS(0),
		buildTime:   b.buildTime,
		predictTime: b.predictTime,
		requests:    len(requests),
		result:      res,
	}
	if err := rep.write(cCtx.App.Writer); err != nil {
		return fmt.Errorf("write standard output: %w", err)
	}
	if res.interrupted {
		return cli.Exit(fmt.Sprintf("interrupted after %s; the results are partial", formatLatency(res.elapsed())), ExitInterrupted)
	}
	if msg := res.failures(); msg != "" {
		return cli.Exit(msg, ExitFailure)
	}
	return nil
}

// readRequests reads the request lines of --input (or standard input),
// skipping blank ones. It fails if there is none, or if one is longer than
// limit, which every prediction would refuse.
func readRequests(cCtx *cli.Context, limit int) ([][]byte, error) {
	in, err := openInput(cCtx)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	what := "--" + flagInput + " " + cCtx.String(flagInput)
	if name := cCtx.String(flagInput); name == "" || name == "-" {
		what = "standard input"
		if in.term {
			return nil, usageErrorf("bench reads its requests from --%s or standard input, which is a terminal: give --%s FILE or pipe requests in (see 'wasmreg bench --help')",
				flagInput, flagInput)
		}
	}
	var requests [][]byte
	r := bufio.NewReaderSize(in.r, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, n, tooLong, err := readLine(r, limit)
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read requests: %s: line %d: %w", what, lineNo, err)
		}
		if tooLong {
			return nil, fmt.Errorf("%s: line %d is longer than %d bytes, the --%s", what, lineNo, limit, flagInputLimit)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			requests = append(requests, line)
		}
		if err == io.EOF || n == 0 {
			break
		}
	}
	if len(requests) == 0 {
		return nil, usageErrorf("%s has no requests: bench needs at least one request line (blank lines are skipped)", what)
	}
	return requests, nil
}

// benchBar is bench's status line while it runs: "[=====>      ]
// 4.2s/10s  builds 1234  predictions 0", redrawn ten times a second.
// Everything else written to the terminal meanwhile must go through
// [benchBar.Writer]. A nil *benchBar draws nothing. It is safe for
// concurrent use.
type benchBar struct {
	line  *statusLine
	total time.Duration
	quit  chan struct{} // closed by stop
	done  chan struct{} // closed when the drawing goroutine returns
}

func newBenchBar(out io.Writer, total time.Duration) *benchBar {
	// The ticker paces the redraws: the line itself adds no delay.
	return &benchBar{line: newStatusLine(out, 0, 0), total: total}
}

// start draws the line until stop, with the counts that counts returns.
func (b *benchBar) start(counts func() (builds, predictions int64)) {
	if b == nil {
		return
	}
	b.quit, b.done = make(chan struct{}), make(chan struct{})
	t0 := time.Now() // the bench starts now, not when the line was made before the load
	go func() {
		defer close(b.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-b.quit:
				return
			case <-tick.C:
			}
			b.line.draw(func() string {
				builds, predictions := counts()
				return formatBar(time.Since(t0), b.total, builds, predictions)
			})
		}
	}()
}

// stop erases the line for good.
func (b *benchBar) stop() {
	if b == nil || b.quit == nil {
		return
	}
	close(b.quit)
	<-b.done
	b.line.close()
}

// Writer returns a writer to the terminal that erases the line before each
// write; it is drawn again at the next tick.
func (b *benchBar) Writer(terminal io.Writer) io.Writer {
	if b == nil {
		return terminal
	}
	return b.line.Writer(terminal)
}

// formatBar returns the progress line of a bench elapsed into total.
func formatBar(elapsed, total time.Duration, builds, predictions int64) string {
	const width = 20
	frac := 1.0
	if total > 0 {
		frac = min(max(float64(elapsed)/float64(total), 0), 1)
	}
	filled := int(frac * width)
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	return fmt.Sprintf("[%s] %.1fs/%s  builds %d  predictions %d", bar, elapsed.Seconds(), formatSeconds(total), builds, predictions)
}
