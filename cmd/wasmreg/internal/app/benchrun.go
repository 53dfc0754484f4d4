package app

// The engine of `wasmreg bench`: workers that build models and send them
// requests for a while, and what they measured. It knows nothing of flags
// or of the report (bench.go and benchreport.go).

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

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
