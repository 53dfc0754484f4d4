package app

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/wasmreg/wasmreg/internal/safetext"
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
			"Ctrl-C stops the run early and reports what was measured so far.\n\n" +
			"Capabilities are granted as for run: --grant clock, --grant random[=SEED],\n" +
			"--grant artifact=NAME=FILE.\n\n" +
			"Examples:\n" +
			"   wasmreg bench echo.wasm --input requests.txt\n" +
			"   wasmreg bench scale.wasm --config '{\"scale\":2}' --concurrency 8 --duration 30s < requests.txt\n" +
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
	path, wasm, err := ff.module(cCtx)
	if err != nil {
		return err
	}

	var bar *benchBar
	if showsProgress(cCtx.App.ErrWriter) {
		bar = &benchBar{out: cCtx.App.ErrWriter, total: duration}
	}
	h, f, err := ff.load(cCtx, bar.Writer(cCtx.App.ErrWriter), path, wasm)
	if err != nil {
		return err
	}
	defer closeHost(cCtx, h)

	b := &bench{
		build: func(ctx context.Context) (benchModel, error) {
			m, err := f.BuildModel(ctx, ff.config)
			if err != nil {
				return nil, fmt.Errorf("build %s: %w", f.Name(), err)
			}
			return m, nil
		},
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
		path:        path,
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

// benchModel is a model as bench uses it: a *host.Model, or a fake in
// tests.
type benchModel interface {
	Predict(ctx context.Context, input []byte) ([]byte, error)
	Close(ctx context.Context) error
}

// The phases of a bench, in order.
const (
	phaseBuild = iota
	phasePredict
	phases
)

// bench is one benchmark of a factory: a build phase, then a predict
// phase, each run by concurrency workers. Set its fields, then call run
// once; counts may be called concurrently with run.
type bench struct {
	build       func(context.Context) (benchModel, error) // safe for concurrent use
	closes      func(error) bool                          // whether a failed Predict closed its model
	requests    [][]byte                                  // sent in turn by every worker; read-only
	concurrency int
	buildTime   time.Duration
	predictTime time.Duration
	maxSamples  int // most latencies kept per phase

	// workers holds each phase's workers once it has started, for counts.
	workers [phases]atomic.Pointer[[]*benchWorker]
}

// benchWorker is one goroutine's share of a phase. Until the phase ends,
// only that goroutine touches it, except done, which counts reads.
type benchWorker struct {
	done      atomic.Int64 // operations finished, successful or not
	latencies reservoir    // of the successful operations
	errors    int64
	firstErr  error
	firstAt   time.Time // when firstErr happened
	rebuilds  int64     // models built again because a failure closed them
}

func (w *benchWorker) fail(err error) {
	if w.firstErr == nil {
		w.firstErr, w.firstAt = err, time.Now()
	}
	w.errors++
}

// phaseResult is what one phase measured.
type phaseResult struct {
	ran       bool
	skipped   string        // why the phase did not run, if it did not
	elapsed   time.Duration // from the start of the phase until its last operation ended
	ok        int64         // successful operations
	errors    int64         // failed operations
	firstErr  error         // the earliest failure
	latencies []time.Duration
	rebuilds  int64
}

// benchResult is what a bench measured.
type benchResult struct {
	builds, predictions phaseResult
	interrupted         bool // the context was done before the end
}

func (r benchResult) elapsed() time.Duration { return r.builds.elapsed + r.predictions.elapsed }

// failures says which operations failed, or returns "" if none did.
func (r benchResult) failures() string {
	var parts []string
	for _, p := range []struct {
		noun string
		r    phaseResult
	}{{"build", r.builds}, {"prediction", r.predictions}} {
		switch {
		case p.r.errors == 0:
		case p.r.ok == 0:
			parts = append(parts, fmt.Sprintf("all %s failed", plural(int(p.r.errors), p.noun)))
		default:
			parts = append(parts, fmt.Sprintf("%d of %d %ss failed", p.r.errors, p.r.ok+p.r.errors, p.noun))
		}
	}
	if r.predictions.skipped != "" && !r.interrupted {
		parts = append(parts, "predictions were not run")
	}
	return strings.Join(parts, "; ")
}

// counts returns how many builds and predictions have ended so far,
// successful or not. It is safe to call while run runs.
func (b *bench) counts() (builds, predictions int64) {
	sum := func(p *atomic.Pointer[[]*benchWorker]) int64 {
		ws := p.Load()
		if ws == nil {
			return 0
		}
		var n int64
		for _, w := range *ws {
			n += w.done.Load()
		}
		return n
	}
	return sum(&b.workers[phaseBuild]), sum(&b.workers[phasePredict])
}

// run runs both phases, stopping early if ctx is done. The predict phase
// is skipped if no build succeeded: each of its workers needs a model.
func (b *bench) run(ctx context.Context) benchResult {
	var res benchResult
	res.builds = b.runPhase(ctx, phaseBuild, b.buildTime, b.buildWorker)
	switch {
	case ctx.Err() != nil:
		res.predictions.skipped = "interrupted"
	case res.builds.ok == 0:
		res.predictions.skipped = "no build succeeded"
	default:
		res.predictions = b.runPhase(ctx, phasePredict, b.predictTime, b.predictWorker)
	}
	res.interrupted = ctx.Err() != nil
	return res
}

// phaseWork is one worker's loop. It calls begin once, when it is ready to
// start; begin returns when every worker is, and the phase's clock starts
// then. more reports whether to start another operation: the phase's time
// is not up and ctx is not done.
type phaseWork func(ctx context.Context, id int, w *benchWorker, begin func() (more func() bool))

// runPhase runs work in b.concurrency goroutines for d and merges what
// they measured.
func (b *bench) runPhase(ctx context.Context, phase int, d time.Duration, work phaseWork) phaseResult {
	workers := make([]*benchWorker, b.concurrency)
	// Each worker keeps up to twice its share of the samples, so that the
	// merged sample stays full when workers run at uneven rates.
	perWorker := min(b.maxSamples, max(2*b.maxSamples/b.concurrency, 1))
	for i := range workers {
		workers[i] = &benchWorker{latencies: newReservoir(perWorker, uint64(phase*b.concurrency+i))}
	}
	b.workers[phase].Store(&workers)

	var ready, wg sync.WaitGroup
	ready.Add(b.concurrency)
	start := make(chan struct{})
	var t0 time.Time // written before start is closed, read after
	more := func() bool { return ctx.Err() == nil && time.Since(t0) < d }
	begin := func() func() bool {
		ready.Done()
		<-start
		return more
	}
	for i, w := range workers {
		wg.Go(func() { work(ctx, i, w, begin) })
	}
	ready.Wait()
	t0 = time.Now()
	close(start)
	wg.Wait()

	res := phaseResult{ran: true, elapsed: time.Since(t0)}
	rs := make([]*reservoir, len(workers))
	for i, w := range workers {
		res.ok += w.latencies.seen
		res.errors += w.errors
		res.rebuilds += w.rebuilds
		rs[i] = &w.latencies
	}
	res.firstErr = earliestError(workers)
	res.latencies = mergeSamples(rs, b.maxSamples, rand.New(rand.NewPCG(uint64(phase), 0)))
	slices.Sort(res.latencies)
	return res
}

// earliestError returns the first failure of any worker.
func earliestError(workers []*benchWorker) error {
	var first *benchWorker
	for _, w := range workers {
		if w.firstErr != nil && (first == nil || w.firstAt.Before(first.firstAt)) {
			first = w
		}
	}
	if first == nil {
		return nil
	}
	return first.firstErr
}

// buildWorker builds models and closes them, timing each build. A build
// that fails because ctx is done is not a failure of the factory: it is
// not counted.
func (b *bench) buildWorker(ctx context.Context, _ int, w *benchWorker, begin func() func() bool) {
	more := begin()
	for ctx.Err() == nil {
		t := time.Now()
		m, err := b.build(ctx)
		elapsed := time.Since(t)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.fail(err)
		} else {
			w.latencies.add(elapsed)
			_ = m.Close(context.Background())
		}
		w.done.Add(1)
		if !more() {
			return
		}
	}
}

// predictWorker builds a model before the phase starts, then sends it the
// requests in turn, from its own place in them, timing each prediction. A
// failure that closes the model is followed by a new build; a failed build
// counts as a failed prediction, the request could not be answered.
func (b *bench) predictWorker(ctx context.Context, id int, w *benchWorker, begin func() func() bool) {
	m, err := b.build(ctx)
	if err != nil && ctx.Err() == nil {
		w.fail(err)
	}
	defer func() {
		if m != nil {
			_ = m.Close(context.Background())
		}
	}()
	more := begin()
	next := id * len(b.requests) / b.concurrency
	for ctx.Err() == nil {
		req := b.requests[next]
		next = (next + 1) % len(b.requests)
		var err error
		if m == nil { // a failure closed it, or the first build failed
			if m, err = b.build(ctx); err == nil {
				w.rebuilds++
			}
		}
		if m != nil {
			t := time.Now()
			_, err = m.Predict(ctx, req)
			elapsed := time.Since(t)
			switch {
			case err == nil:
				w.latencies.add(elapsed)
			case b.closes(err):
				_ = m.Close(context.Background())
				m = nil
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.fail(err)
		}
		w.done.Add(1)
		if !more() {
			return
		}
	}
}

// reservoir keeps a uniform random sample of at most size of the
// latencies it is given (Vitter's algorithm R), so that a long run at a
// high rate measures percentiles in bounded memory. It is not safe for
// concurrent use: each worker has its own.
type reservoir struct {
	samples []time.Duration
	size    int   // most samples kept
	seen    int64 // latencies given
	rng     *rand.Rand
}

func newReservoir(size int, seed uint64) reservoir {
	return reservoir{size: size, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

func (r *reservoir) add(d time.Duration) {
	r.seen++
	if len(r.samples) < r.size {
		r.samples = append(r.samples, d)
		return
	}
	// The new latency replaces a kept one with probability size/seen.
	if j := r.rng.Int64N(r.seen); j < int64(r.size) {
		r.samples[j] = d
	}
}

// mergeSamples returns a uniform sample of at most max of the latencies
// that rs saw, all of them if they kept all of them and there are no more
// than max. A kept sample of a reservoir that saw more than it kept stands
// for several latencies, so each reservoir contributes in proportion to
// what it saw, and in all as many as the most thinned-out one allows. It
// reorders the reservoirs' samples.
func mergeSamples(rs []*reservoir, max int, rng *rand.Rand) []time.Duration {
	var seen int64
	kept, exact := 0, true
	for _, r := range rs {
		seen += r.seen
		kept += len(r.samples)
		exact = exact && int64(len(r.samples)) == r.seen
	}
	if exact && kept <= max {
		out := make([]time.Duration, 0, kept)
		for _, r := range rs {
			out = append(out, r.samples...)
		}
		return out
	}
	target := float64(max)
	for _, r := range rs {
		if r.seen > 0 {
			target = math.Min(target, float64(len(r.samples))*float64(seen)/float64(r.seen))
		}
	}
	out := make([]time.Duration, 0, int(target)+len(rs))
	for _, r := range rs {
		// Rounded down, so that there are at most max in all; the epsilon
		// keeps an exact share from being rounded down by a float error.
		k := min(int(math.Floor(target*float64(r.seen)/float64(seen)+1e-9)), len(r.samples))
		for i := range k { // a uniform choice of k: a partial Fisher–Yates shuffle
			j := i + rng.IntN(len(r.samples)-i)
			r.samples[i], r.samples[j] = r.samples[j], r.samples[i]
		}
		out = append(out, r.samples[:k]...)
	}
	return out
}

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value that at least p% of the values
// are less than or equal to. It returns 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// p·n is exact for whole p, so the rank is not off by one from rounding.
	rank := int(math.Ceil(p * float64(n) / 100))
	return sorted[min(max(rank, 1), n)-1]
}

// formatLatency formats d to three significant digits in the unit that
// suits it: 850ns, 12.3µs, 1.05ms, 2.50s.
func formatLatency(d time.Duration) string {
	if d < time.Microsecond {
		return fmt.Sprintf("%dns", max(d, 0))
	}
	p := time.Duration(1)
	for d/p >= 1000 {
		p *= 10
	}
	d = (d + p/2) / p * p // rounded first, so that 999.96µs is 1.00ms, not 1000µs
	unit, name := time.Microsecond, "µs"
	switch {
	case d >= time.Second:
		unit, name = time.Second, "s"
	case d >= time.Millisecond:
		unit, name = time.Millisecond, "ms"
	}
	v := float64(d) / float64(unit)
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f%s", v, name)
	case v < 100:
		return fmt.Sprintf("%.1f%s", v, name)
	default:
		return fmt.Sprintf("%.0f%s", v, name)
	}
}

// formatRate formats n operations in elapsed as a rate per second.
func formatRate(n int64, elapsed time.Duration) string {
	if elapsed <= 0 {
		return "-"
	}
	v := float64(n) / elapsed.Seconds()
	switch {
	case v == 0 || v >= 100:
		return fmt.Sprintf("%.0f/s", v)
	case v >= 10:
		return fmt.Sprintf("%.1f/s", v)
	default:
		return fmt.Sprintf("%.2f/s", v)
	}
}

// formatSeconds formats d in seconds, as short as it can be exact: 10s,
// 0.4s, 1.25s.
func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// benchReport is what `wasmreg bench` writes to standard output.
type benchReport struct {
	factory, digest, path   string
	concurrency, gomaxprocs int
	buildTime, predictTime  time.Duration
	requests                int // request lines sent in turn
	result                  benchResult
}

// digestPrefix is how many hex digits of the sha256 the report shows:
// enough to tell builds of a factory apart.
const digestPrefix = 12

func (r benchReport) write(out io.Writer) error {
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "factory:   %s, sha256 %s… (%s)\n", r.factory, r.digest[:min(digestPrefix, len(r.digest))],
		safetext.Line(r.path, maxLineShown))
	fmt.Fprintf(w, "settings:  concurrency %d, GOMAXPROCS %d, %s building then %s predicting, %s in turn\n\n",
		r.concurrency, r.gomaxprocs, formatSeconds(r.buildTime), formatSeconds(r.predictTime), plural(r.requests, "request"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tTIME\tCOUNT\tERRORS\tTHROUGHPUT\tP50\tP90\tP99\tMAX")
	fmt.Fprintln(tw, phaseRow("builds", r.result.builds))
	fmt.Fprintln(tw, phaseRow("predictions", r.result.predictions))
	_ = tw.Flush() // its errors are w's, which Flush returns below
	for _, p := range []struct {
		noun string
		r    phaseResult
	}{{"build", r.result.builds}, {"prediction", r.result.predictions}} {
		if p.r.firstErr != nil {
			fmt.Fprintf(w, "first %s error: %s\n", p.noun, oneLine(trimHost(p.r.firstErr.Error())))
		}
	}
	if n := r.result.predictions.rebuilds; n > 0 {
		fmt.Fprintf(w, "models built again because a failure closed them: %d\n", n)
	}
	if s := r.result.predictions.skipped; s != "" {
		fmt.Fprintf(w, "predictions not run: %s\n", s)
	}
	return w.Flush()
}

// phaseRow is the table row of a phase: COUNT is its successful
// operations, and THROUGHPUT and the latencies are theirs.
func phaseRow(name string, p phaseResult) string {
	if !p.ran {
		return name + strings.Repeat("\t-", 8)
	}
	cells := []string{name, formatLatency(p.elapsed), strconv.FormatInt(p.ok, 10), strconv.FormatInt(p.errors, 10),
		formatRate(p.ok, p.elapsed)}
	for _, q := range []float64{50, 90, 99, 100} {
		if len(p.latencies) == 0 {
			cells = append(cells, "-")
		} else {
			cells = append(cells, formatLatency(percentile(p.latencies, q)))
		}
	}
	return strings.Join(cells, "\t")
}

// benchBar draws a self-erasing progress line on a terminal while a bench
// runs: "[=====>      ] 4.2s/10s  builds 1234  predictions 0", redrawn ten
// times a second. Everything else written to the terminal meanwhile must
// go through [benchBar.Writer]. A nil *benchBar draws nothing. It is safe
// for concurrent use.
type benchBar struct {
	out   io.Writer
	total time.Duration
	quit  chan struct{} // closed by stop
	done  chan struct{} // closed when the drawing goroutine returns

	mu    sync.Mutex // guards drawn and writes to out
	drawn bool       // the line is on the screen
}

// start draws the line until stop, with the counts that counts returns.
func (b *benchBar) start(counts func() (builds, predictions int64)) {
	if b == nil {
		return
	}
	b.quit, b.done = make(chan struct{}), make(chan struct{})
	t0 := time.Now()
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
			builds, predictions := counts()
			line := formatBar(time.Since(t0), b.total, builds, predictions)
			b.mu.Lock()
			_, _ = io.WriteString(b.out, "\r\x1b[K"+line)
			b.drawn = true
			b.mu.Unlock()
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
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clear()
}

// clear erases the line; the caller holds mu.
func (b *benchBar) clear() {
	if b.drawn {
		_, _ = io.WriteString(b.out, "\r\x1b[K")
		b.drawn = false
	}
}

// Writer returns a writer to the terminal that erases the line before each
// write; it is drawn again at the next tick.
func (b *benchBar) Writer(terminal io.Writer) io.Writer {
	if b == nil {
		return terminal
	}
	return benchBarWriter{b}
}

type benchBarWriter struct{ b *benchBar }

func (w benchBarWriter) Write(p []byte) (int, error) {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	w.b.clear()
	return w.b.out.Write(p)
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
