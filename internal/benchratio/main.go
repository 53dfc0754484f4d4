// Command benchratio reads `go test -bench` output on standard input, passes
// it through, and then prints, for every benchmark that has a "wasmreg"
// sub-benchmark and a baseline sibling ("raw-wazero", "native", "extism"),
// the ratio of their times per operation, measured in the same run.
//
//	go test -run '^$' -bench . ./host | go run ./internal/benchratio
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

var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op`)

// baselines are the sibling names a "wasmreg" result is compared with.
var baselines = []string{"raw-wazero", "native", "extism"}

func main() {
	results, err := read(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
	fmt.Print(report(results))
}

// read copies r to w and collects the mean ns/op of every benchmark.
func read(r io.Reader, w io.Writer) (map[string]float64, error) {
	sums, counts := map[string]float64{}, map[string]int{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fmt.Fprintln(w, sc.Text())
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return nil, fmt.Errorf("benchmark %s: %w", m[1], err)
		}
		sums[m[1]] += v
		counts[m[1]]++
	}
	means := map[string]float64{}
	for k, s := range sums {
		means[k] = s / float64(counts[k])
	}
	return means, sc.Err()
}

// report lists the ratios, sorted by benchmark name.
func report(results map[string]float64) string {
	var rows []string
	for name, v := range results {
		prefix, ok := strings.CutSuffix(name, "/wasmreg")
		if !ok {
			continue
		}
		for _, base := range baselines {
			if bv, ok := results[prefix+"/"+base]; ok && bv > 0 {
				row := fmt.Sprintf("%-40s wasmreg %12.0f ns/op  %-10s %12.0f ns/op  ratio %.2fx",
					prefix, v, base, bv, v/bv)
				if v < bv {
					row += fmt.Sprintf(" (wasmreg %.1fx faster)", bv/v)
				}
				rows = append(rows, row)
			}
		}
	}
	sort.Strings(rows)
	if len(rows) == 0 {
		return "benchratio: no wasmreg/baseline pairs found\n"
	}
	return "\nratios (wasmreg ÷ baseline, same run):\n" + strings.Join(rows, "\n") + "\n"
}
