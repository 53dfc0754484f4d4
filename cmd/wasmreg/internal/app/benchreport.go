package app

// The report of `wasmreg bench`: the table of what the engine
// (benchrun.go) measured, and how durations and rates are written.

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wasmreg/wasmreg/internal/safetext"
)

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
			fmt.Fprintf(w, "first %s error: %s\n", p.noun, errLine(p.r.firstErr))
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
