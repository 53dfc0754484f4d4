// Command benchratio reads `go test -bench` output on standard input, passes
// it through, and then prints, for every benchmark that has a "wasmreg"
// sub-benchmark and a baseline sibling ("raw-wazero", "native", "extism", "fresh"),
// the ratio of their times per operation, measured in the same run; for
// every "warm" benchmark with a "cold" sibling, how many times faster it
// is; and,
// for every benchmark whose name says "Parallel" and that ran with more
// than one -cpu value, its throughput scaling: its time per operation at
// one core divided by that at N cores (RunParallel reports wall time per
// operation over all goroutines).
//
//	go test -run '^$' -bench . ./host | go run ./internal/benchratio
//	go test -run '^$' -bench Parallel -cpu 1,2 ./host | go run ./internal/benchratio
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-(\d+))?\s+\d+\s+([\d.]+) ns/op`)

// baselines are the sibling names a "wasmreg" result is compared with:
// other runtimes, native code, and "fresh", wasmreg itself with an
// optimisation off (recycled sandboxes, in host's BenchmarkBuild).
var baselines = []string{"raw-wazero", "native", "extism", "fresh"}

// key names one benchmark at one GOMAXPROCS (go test leaves the "-N"
// suffix out when it is 1).
type key struct {
	name string
	cpu  int
}

func main() {
	results, err := read(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
	fmt.Print(report(results))
}

// read copies r to w and collects the mean ns/op of every benchmark.
func read(r io.Reader, w io.Writer) (map[key]float64, error) {
	sums, counts := map[key]float64{}, map[key]int{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fmt.Fprintln(w, sc.Text())
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("benchmark %s: %w", m[1], err)
		}
		k := key{name: m[1], cpu: 1}
		if m[2] != "" {
			if k.cpu, err = strconv.Atoi(m[2]); err != nil {
				return nil, fmt.Errorf("benchmark %s: cpu suffix %q: %w", m[1], m[2], err)
			}
		}
		sums[k] += v
		counts[k]++
	}
	means := map[key]float64{}
	for k, s := range sums {
		means[k] = s / float64(counts[k])
	}
	return means, sc.Err()
}

// report lists the ratios and the scalings, each sorted by benchmark name.
func report(results map[key]float64) string {
	cpus := map[int]bool{}
	for k := range results {
		cpus[k.cpu] = true
	}
	var rows, scaling []string
	for k, v := range results {
		label := k.name
		if len(cpus) > 1 {
			label += fmt.Sprintf(" (%d cpu)", k.cpu)
		}
		if prefix, ok := strings.CutSuffix(k.name, "/wasmreg"); ok {
			for _, base := range baselines {
				bv, ok := results[key{prefix + "/" + base, k.cpu}]
				if !ok || bv <= 0 {
					continue
				}
				label := strings.Replace(label, k.name, prefix, 1)
				row := fmt.Sprintf("%-48s wasmreg %12.0f ns/op  %-10s %12.0f ns/op  ratio %.2fx",
					label, v, base, bv, v/bv)
				if v < bv {
					row += fmt.Sprintf(" (wasmreg %.1fx faster)", bv/v)
				}
				rows = append(rows, row)
			}
		}
		if prefix, ok := strings.CutSuffix(k.name, "/warm"); ok {
			if cold, ok := results[key{prefix + "/cold", k.cpu}]; ok && v > 0 {
				label := strings.Replace(label, k.name, prefix, 1)
				rows = append(rows, fmt.Sprintf("%-48s warm    %12.0f ns/op  cold       %12.0f ns/op  warm is %.1fx faster",
					label, v, cold, cold/v))
			}
		}
		if one, ok := results[key{k.name, 1}]; ok && k.cpu > 1 && v > 0 && strings.Contains(k.name, "Parallel") {
			scaling = append(scaling, fmt.Sprintf("%-48s 1 cpu %12.0f ns/op  %d cpu %12.0f ns/op  scaling %.2fx",
				k.name, one, k.cpu, v, one/v))
		}
	}
	sort.Strings(rows)
	sort.Strings(scaling)
	var out strings.Builder
	if len(rows) > 0 {
		out.WriteString("\nratios (wasmreg ÷ baseline, same run):\n" + strings.Join(rows, "\n") + "\n")
	}
	if len(scaling) > 0 {
		out.WriteString("\nscaling (throughput at N cores ÷ at 1, same run):\n" + strings.Join(scaling, "\n") + "\n")
	}
	if out.Len() == 0 {
		return "benchratio: no wasmreg/baseline pairs and no parallel scalings found\n"
	}
	return out.String()
}
