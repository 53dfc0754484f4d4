package app

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	oneToTen := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i + 1)
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", []time.Duration{7}, 50, 7},
		{"one value p99", []time.Duration{7}, 99, 7},
		{"p50 of 10", oneToTen, 50, 5},
		{"p90 of 10", oneToTen, 90, 9},
		{"p99 of 10 is the max", oneToTen, 99, 10},
		{"p100 is the max", oneToTen, 100, 10},
		{"p tiny is the min", oneToTen, 0.001, 1},
		{"p0 is the min", oneToTen, 0, 1},
		{"p99 of 100 is exact", hundred, 99, 99},
		{"p90 of 100", hundred, 90, 90},
		{"p99.9 of 100", hundred, 99.9, 100},
		{"p50 of 3", []time.Duration{1, 2, 3}, 50, 2},
		{"p50 of 4", []time.Duration{1, 2, 3, 4}, 50, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, percentile(tc.sorted, tc.p))
		})
	}
}

func TestFormatLatency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0ns"},
		{-5, "0ns"},
		{850, "850ns"},
		{999, "999ns"},
		{1000, "1.00µs"},
		{1234, "1.23µs"},
		{1235, "1.24µs"},
		{12_345, "12.3µs"},
		{123_456, "123µs"},
		{999_400, "999µs"},
		{999_960, "1.00ms"}, // rounded before the unit is chosen
		{1_050_000, "1.05ms"},
		{42_000_000, "42.0ms"},
		{400 * time.Millisecond, "400ms"},
		{999_999_999, "1.00s"},
		{2500 * time.Millisecond, "2.50s"},
		{90 * time.Second, "90.0s"},
		{20 * time.Minute, "1200s"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, formatLatency(tc.d), "%d ns", int64(tc.d))
		})
	}
}

func TestFormatRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n       int64
		elapsed time.Duration
		want    string
	}{
		{0, time.Second, "0/s"},
		{1, 2 * time.Second, "0.50/s"},
		{45, 2 * time.Second, "22.5/s"},
		{123456, 200 * time.Millisecond, "617280/s"},
		{5, 0, "-"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, formatRate(tc.n, tc.elapsed))
		})
	}
}

func TestFormatBar(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		elapsed, total time.Duration
		want           string
	}{
		{"start", 0, 10 * time.Second, "[>                   ] 0.0s/10s  builds 3  predictions 0"},
		{"part way", 4200 * time.Millisecond, 10 * time.Second, "[========>           ] 4.2s/10s  builds 3  predictions 0"},
		{"done", 10 * time.Second, 10 * time.Second, "[====================] 10.0s/10s  builds 3  predictions 0"},
		{"over time", 11 * time.Second, 10 * time.Second, "[====================] 11.0s/10s  builds 3  predictions 0"},
		{"fraction of a second", 200 * time.Millisecond, 400 * time.Millisecond, "[==========>         ] 0.2s/0.4s  builds 3  predictions 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, formatBar(tc.elapsed, tc.total, 3, 0))
		})
	}
}

func TestReservoir(t *testing.T) {
	t.Parallel()
	t.Run("keeps all below its size", func(t *testing.T) {
		t.Parallel()
		r := newReservoir(10, 1)
		for i := range 7 {
			r.add(time.Duration(i))
		}
		assert.Equal(t, int64(7), r.seen)
		assert.Equal(t, []time.Duration{0, 1, 2, 3, 4, 5, 6}, r.samples)
	})
	t.Run("keeps a uniform sample beyond it", func(t *testing.T) {
		t.Parallel()
		// Each of 1000 values should be kept with probability 100/1000:
		// over 200 reservoirs, the first and the last tenth of the values
		// are each kept about 2000 times.
		const size, n, trials = 100, 1000, 200
		kept := make([]int, n)
		for trial := range trials {
			r := newReservoir(size, uint64(trial))
			for i := range n {
				r.add(time.Duration(i))
			}
			require.Len(t, r.samples, size)
			require.Equal(t, int64(n), r.seen)
			for _, d := range r.samples {
				kept[d]++
			}
		}
		var first, last int
		for i := range n / 10 {
			first += kept[i]
			last += kept[n-1-i]
		}
		want := float64(trials * size / 10)
		assert.InEpsilon(t, want, first, 0.1, "the first values are not favoured")
		assert.InEpsilon(t, want, last, 0.1, "the last values are not favoured")
	})
}

func TestMergeSamples(t *testing.T) {
	t.Parallel()
	filled := func(size, seen int, value time.Duration) *reservoir {
		r := newReservoir(size, 1)
		for range seen {
			r.add(value)
		}
		return &r
	}
	count := func(ds []time.Duration, v time.Duration) int {
		return len(slices.DeleteFunc(slices.Clone(ds), func(d time.Duration) bool { return d != v }))
	}
	rng := rand.New(rand.NewPCG(1, 2))

	t.Run("all kept: everything", func(t *testing.T) {
		t.Parallel()
		got := mergeSamples([]*reservoir{filled(10, 3, 1), filled(10, 0, 9), filled(10, 10, 2)}, 100, rand.New(rand.NewPCG(1, 2)))
		assert.Len(t, got, 13)
		assert.Equal(t, 3, count(got, 1))
		assert.Equal(t, 10, count(got, 2))
	})
	t.Run("thinned out: in proportion to what each saw", func(t *testing.T) {
		t.Parallel()
		// The first saw 100 times as many as it kept: each of its samples
		// stands for 100 latencies, each of the second's for one.
		got := mergeSamples([]*reservoir{filled(100, 10_000, 1), filled(100, 100, 2)}, 1000, rand.New(rand.NewPCG(1, 2)))
		assert.Equal(t, 100, count(got, 1))
		assert.Equal(t, 1, count(got, 2))
	})
	t.Run("at most max", func(t *testing.T) {
		t.Parallel()
		got := mergeSamples([]*reservoir{filled(600, 600, 1), filled(600, 600, 2)}, 1000, rng)
		assert.Len(t, got, 1000)
		assert.Equal(t, 500, count(got, 1))
		assert.Equal(t, 500, count(got, 2))
	})
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		assert.Empty(t, mergeSamples([]*reservoir{filled(10, 0, 1)}, 100, rand.New(rand.NewPCG(1, 2))))
	})
}

// fakeModel answers every request with itself, but "e" fails as a guest
// error does (the model stays open), "t" traps (closing the model), and
// "s" is slow: a millisecond, unless ctx is done first.
type fakeModel struct {
	closed atomic.Bool
	closes *atomic.Int64 // counts Close calls
}

var (
	errFakeGuest  = errors.New("fake: guest error")
	errFakeTrap   = errors.New("fake: trap")
	errFakeClosed = errors.New("fake: model closed")
)

func (m *fakeModel) Predict(ctx context.Context, in []byte) ([]byte, error) {
	if m.closed.Load() {
		return nil, errFakeClosed
	}
	switch string(in) {
	case "e":
		return nil, errFakeGuest
	case "t":
		m.closed.Store(true)
		return nil, errFakeTrap
	case "s":
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return in, nil
}

func (m *fakeModel) Close(context.Context) error {
	if m.closes != nil {
		m.closes.Add(1)
	}
	m.closed.Store(true)
	return nil
}

// fakeBench returns a bench of fake models; builds fail while failBuilds
// is set.
func fakeBench(requests []string, failBuilds *atomic.Bool, closes, builds *atomic.Int64) *bench {
	reqs := make([][]byte, len(requests))
	for i, r := range requests {
		reqs[i] = []byte(r)
	}
	return &bench{
		build: func(ctx context.Context) (benchModel, error) {
			builds.Add(1)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if failBuilds.Load() {
				return nil, errors.New("fake: build failed")
			}
			return &fakeModel{closes: closes}, nil
		},
		closes:      func(err error) bool { return errors.Is(err, errFakeTrap) },
		requests:    reqs,
		concurrency: 3,
		buildTime:   20 * time.Millisecond,
		predictTime: 20 * time.Millisecond,
		maxSamples:  1000,
	}
}

// TestBenchRun runs both phases with fake models from several workers,
// under -race: every operation is counted once, failures with the first
// error, and every model built is closed.
func TestBenchRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		requests   []string
		failBuilds bool
		check      func(t *testing.T, res benchResult)
	}{
		{"all good", []string{"a", "b"}, false, func(t *testing.T, res benchResult) {
			assert.Zero(t, res.predictions.errors)
			assert.Nil(t, res.predictions.firstErr)
			assert.Zero(t, res.predictions.rebuilds)
			assert.Positive(t, res.predictions.ok)
		}},
		{"guest errors keep the model", []string{"a", "e"}, false, func(t *testing.T, res benchResult) {
			assert.Positive(t, res.predictions.ok)
			assert.Positive(t, res.predictions.errors)
			assert.ErrorIs(t, res.predictions.firstErr, errFakeGuest)
			assert.Zero(t, res.predictions.rebuilds)
			assert.InDelta(t, res.predictions.ok, res.predictions.errors, 3, "every other request fails")
		}},
		{"traps are followed by a build", []string{"t"}, false, func(t *testing.T, res benchResult) {
			assert.Zero(t, res.predictions.ok)
			assert.Positive(t, res.predictions.errors)
			assert.ErrorIs(t, res.predictions.firstErr, errFakeTrap)
			assert.GreaterOrEqual(t, res.predictions.rebuilds, res.predictions.errors-3, "each worker builds after each trap")
			assert.Empty(t, res.predictions.latencies)
			assert.Equal(t, "all "+plural(int(res.predictions.errors), "prediction")+" failed", res.failures())
		}},
		{"failed builds skip the predictions", []string{"a"}, true, func(t *testing.T, res benchResult) {
			assert.Zero(t, res.builds.ok)
			assert.Positive(t, res.builds.errors)
			assert.EqualError(t, res.builds.firstErr, "fake: build failed")
			assert.False(t, res.predictions.ran)
			assert.Equal(t, "no build succeeded", res.predictions.skipped)
			assert.Equal(t, "all "+plural(int(res.builds.errors), "build")+" failed; predictions were not run", res.failures())
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var failBuilds atomic.Bool
			failBuilds.Store(tc.failBuilds)
			var closes, builds atomic.Int64
			b := fakeBench(tc.requests, &failBuilds, &closes, &builds)
			res := b.run(context.Background())

			assert.False(t, res.interrupted)
			assert.True(t, res.builds.ran)
			assert.GreaterOrEqual(t, res.builds.elapsed, b.buildTime)
			assert.Positive(t, res.builds.ok+res.builds.errors)
			for _, p := range []phaseResult{res.builds, res.predictions} {
				assert.LessOrEqual(t, int64(len(p.latencies)), min(p.ok, int64(b.maxSamples)), "one latency per success, up to the cap")
				assert.Equal(t, p.ok > 0, len(p.latencies) > 0)
				if p.ok <= int64(b.maxSamples)/int64(b.concurrency) {
					assert.Len(t, p.latencies, int(p.ok), "all are kept when there are few")
				}
				assert.True(t, slices.IsSorted(p.latencies))
			}
			if res.predictions.ran {
				assert.GreaterOrEqual(t, res.predictions.elapsed, b.predictTime)
			}
			nb, np := b.counts()
			assert.Equal(t, res.builds.ok+res.builds.errors, nb)
			if tc.failBuilds {
				assert.Zero(t, np)
			} else {
				assert.Equal(t, res.predictions.ok+res.predictions.errors, np)
			}
			if tc.failBuilds {
				assert.Zero(t, closes.Load())
			} else {
				assert.Equal(t, builds.Load(), closes.Load(), "every model built is closed")
			}
			tc.check(t, res)
		})
	}
}

// TestBenchRunInterrupted cancels a bench during its predict phase: it
// stops at once, and the operations the cancellation cut short are not
// counted as failures.
func TestBenchRunInterrupted(t *testing.T) {
	t.Parallel()
	var failBuilds atomic.Bool
	var closes, builds atomic.Int64
	b := fakeBench([]string{"s"}, &failBuilds, &closes, &builds)
	b.predictTime = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	go func() { // cancel once the predict phase is under way
		for _, np := b.counts(); np < 5; _, np = b.counts() {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	res := b.run(ctx)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.True(t, res.interrupted)
	assert.True(t, res.predictions.ran)
	assert.Positive(t, res.predictions.ok)
	assert.Zero(t, res.predictions.errors, "a request cut short by Ctrl-C is not a failure")
	assert.Empty(t, res.failures())
	assert.Equal(t, builds.Load(), closes.Load())

	// Cancelled during the build phase: no predictions.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	res = fakeBench([]string{"a"}, &failBuilds, &closes, &builds).run(ctx)
	assert.True(t, res.interrupted)
	assert.Zero(t, res.builds.errors)
	assert.Equal(t, "interrupted", res.predictions.skipped)
}

func TestBenchReport(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	rep := benchReport{
		factory: "echo@1.0.0", digest: strings.Repeat("ab", 32), path: "echo.wasm",
		concurrency: 4, gomaxprocs: 8, buildTime: 5 * time.Second, predictTime: 5 * time.Second, requests: 3,
		result: benchResult{
			builds: phaseResult{ran: true, elapsed: 5 * time.Second, ok: 1000, errors: 2,
				firstErr:  errors.New("host: build failed"),
				latencies: []time.Duration{1 * ms, 2 * ms, 3 * ms, 4 * ms, 5 * ms, 6 * ms, 7 * ms, 8 * ms, 9 * ms, 10 * ms}},
			predictions: phaseResult{skipped: "interrupted"},
		},
	}
	var b bytes.Buffer
	require.NoError(t, rep.write(&b))
	assert.Equal(t, "factory:   echo@1.0.0, sha256 abababababab… (echo.wasm)\n"+
		"settings:  concurrency 4, GOMAXPROCS 8, 5s building then 5s predicting, 3 requests in turn\n"+
		"\n"+
		"PHASE        TIME   COUNT  ERRORS  THROUGHPUT  P50     P90     P99     MAX\n"+
		"builds       5.00s  1000   2       200/s       5.00ms  9.00ms  10.0ms  10.0ms\n"+
		"predictions  -      -      -       -           -       -       -       -\n"+
		"first build error: host: build failed\n"+
		"predictions not run: interrupted\n", b.String())
}

// TestBenchUsageErrors runs the command in-process: see runMain for why
// not in parallel.
func TestBenchUsageErrors(t *testing.T) {
	echo := fixture("echo.wasm")
	blank := filepath.Join(t.TempDir(), "blank.txt")
	require.NoError(t, os.WriteFile(blank, []byte("\n  \r\n\n"), 0o600))
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no factory", "a\n", []string{"bench"}, "bench needs a FACTORY argument"},
		{"two factories", "a\n", []string{"bench", echo, "x"}, "bench takes one FACTORY argument, got 2"},
		{"zero concurrency", "a\n", []string{"bench", echo, "--concurrency", "0"}, "--concurrency: 0 is not positive"},
		{"negative concurrency", "a\n", []string{"bench", echo, "--concurrency=-2"}, "--concurrency: -2 is not positive"},
		{"concurrency above max instances", "a\n", []string{"bench", echo, "--concurrency", "9", "--max-instances", "8"},
			"--concurrency 9 is more than --max-instances 8"},
		{"zero duration", "a\n", []string{"bench", echo, "--duration", "0"}, "--duration: 0s is not positive"},
		{"negative duration", "a\n", []string{"bench", echo, "--duration=-1s"}, "--duration: -1s is not positive"},
		{"bad duration", "a\n", []string{"bench", echo, "--duration", "soon"}, "--duration soon: not a duration; write a number and a unit"},
		{"no requests", "", []string{"bench", echo}, "standard input has no requests: bench needs at least one request line"},
		{"blank requests", "", []string{"bench", echo, "--input", blank}, "--input " + blank + " has no requests"},
		{"bad config", "a\n", []string{"bench", echo, "--config", "{"}, "--config is not valid JSON"},
		{"bad grant", "a\n", []string{"bench", echo, "--grant", "network"}, `unknown capability "network"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, status := runMain(t, tc.stdin, tc.args...)
			assert.Equal(t, ExitUsage, status, "stderr: %s", stderr)
			assert.Empty(t, stdout)
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			assert.True(t, strings.HasPrefix(stderr, "wasmreg: "), stderr)
			assert.Contains(t, stderr, tc.want)
		})
	}

	_, stderr, status := runMain(t, "", "bench", echo, "--input", filepath.Join(t.TempDir(), "none.txt"))
	assert.Equal(t, ExitFailure, status)
	assert.Contains(t, stderr, "--input: open ")
}

// TestBenchEcho benchmarks a real factory in-process, so that -race sees
// the host used by several workers at once.
func TestBenchEcho(t *testing.T) {
	stdout, stderr, status := runMain(t, "a\n\nb\n", "bench", fixture("echo.wasm"), "--duration", "100ms", "--concurrency", "3")
	require.Equal(t, ExitOK, status, stderr)
	assert.Empty(t, stderr)
	assert.Contains(t, stdout, "factory:   echo@1.0.0, sha256 ")
	assert.Contains(t, stdout, "settings:  concurrency 3, ")
	assert.Contains(t, stdout, "2 requests in turn")
	for _, phase := range []string{"builds", "predictions"} {
		assert.Regexp(t, regexp.MustCompile(`(?m)^`+phase+`\s+\S+\s+[1-9]\d*\s+0\s+\d+/s(\s+\d+(\.\d+)?(ns|µs|ms|s)){4}$`), stdout)
	}
}
