// Command compilecost measures what makes wazero v1.12's compiler slow or
// memory-hungry, to choose the host's structural limits (README.md).
//
// It generates modules of each shape (shapes.go) in doubling sizes, with
// and without the interrupt checks the host inserts (interrupt.Instrument,
// describe.go), and
// compiles each in a fresh child process with wazero's compiler and default
// core features, as the host does, reading the child's CPU time and peak
// memory. Other modes describe real modules, replicate a module's code to
// see how compile time scales with size, and build the worst module the
// proposed limits admit.
//
//	go run ./host/internal/compilecost -mode sweep [-shapes a,b] [-checks both]
//	go run ./host/internal/compilecost -mode one -shape seq_loops -n 10000 -checked
//	go run ./host/internal/compilecost -mode real file.wasm...
//	go run ./host/internal/compilecost -mode scale -copies 1,2,4,8 file.wasm
//	go run ./host/internal/compilecost -mode worst
//	go run ./host/internal/compilecost -mode model results/*.json
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "compilecost:", err)
		os.Exit(1)
	}
}

type options struct {
	mode     string
	shapes   string
	checks   string
	shape    string
	n        int
	m        int
	checked  bool
	maxCPU   time.Duration
	maxRSS   uint64
	maxBytes int
	copies   string
	profile  string
	describe bool
	jsonOut  string
	budget   budget
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compilecost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var childPath string
	var timeout time.Duration
	var maxRSSMiB, killRSSMiB, maxMiB int
	fs.StringVar(&childPath, "child", "", "internal: compile this module and report (the parent runs it)")
	fs.StringVar(&o.mode, "mode", "sweep", "sweep, one, real, scale, worst or model")
	fs.StringVar(&o.shapes, "shapes", "", "sweep: comma-separated shapes (default all)")
	fs.StringVar(&o.checks, "checks", "both", "sweep: raw, checked or both (shapes the checks do not change run raw only)")
	fs.StringVar(&o.shape, "shape", "", "one: the shape")
	fs.IntVar(&o.n, "n", 0, "one: the shape's parameter")
	fs.IntVar(&o.m, "m", 0, "sweep, one: fix the second factor of a product shape (default: n)")
	fs.BoolVar(&o.checked, "checked", false, "one: insert the interrupt checks")
	fs.StringVar(&o.profile, "cpuprofile", "", "one: write the child's CPU profile of the compile to this file")
	fs.DurationVar(&o.maxCPU, "max-cpu", 10*time.Second, "sweep: stop a shape once a compile takes this much CPU")
	fs.IntVar(&maxRSSMiB, "max-rss", 2048, "sweep: stop a shape once a compile's peak RSS passes this many MiB")
	fs.IntVar(&killRSSMiB, "kill-rss", 4096, "kill a child whose RSS passes this many MiB")
	fs.DurationVar(&timeout, "timeout", 40*time.Second, "kill a child after this long")
	fs.IntVar(&maxMiB, "max-module", 64, "sweep: stop a shape once its module passes this many MiB")
	fs.BoolVar(&o.describe, "describe", false, "real: describe the modules without compiling them")
	fs.StringVar(&o.copies, "copies", "1,2,4,8,16", "scale: how many copies of the code")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if childPath != "" {
		return child(childPath)
	}
	o.maxRSS = uint64(maxRSSMiB) << 20
	o.maxBytes = maxMiB << 20
	o.budget = budget{timeout: timeout, rssLimit: uint64(killRSSMiB) << 20}

	var out any
	var err error
	switch o.mode {
	case "sweep":
		out, err = sweepMode(o, stdout, stderr)
	case "one":
		out, err = oneMode(o, stdout)
	case "real":
		out, err = realMode(o, fs.Args(), stdout, stderr)
	case "scale":
		out, err = scaleMode(o, fs.Args(), stdout, stderr)
	case "worst":
		out, err = worstMode(o, stdout, stderr)
	case "model":
		out, err = modelMode(o, fs.Args(), stdout)
	default:
		return fmt.Errorf("unknown -mode %q", o.mode)
	}
	if err != nil {
		return err
	}
	if o.jsonOut != "" {
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(o.jsonOut, b, 0o644)
	}
	return nil
}

// build generates shape s at n (and m, the second factor of a product
// shape; 0 means n), with the checks if checked.
func build(s shapeGen, n, m int, checked bool) ([]byte, error) {
	if m == 0 {
		m = n
	}
	wasm := s.gen(n, m).encode()
	if !checked {
		return wasm, nil
	}
	return instrument(wasm)
}

// series is one shape's sweep, raw or checked.
type series struct {
	Shape    string    `json:"shape"`
	Count    string    `json:"count"`
	Checked  bool      `json:"checked"`
	M        int       `json:"m,omitempty"`
	Points   []jsPoint `json:"points"`
	CPUExp   float64   `json:"cpu_exponent"`
	AllocExp float64   `json:"alloc_exponent"`
	At1s     float64   `json:"n_at_1s_cpu"`
	Stop     string    `json:"stopped_by"`
}

type jsPoint struct {
	N int `json:"n"`
	result
}

func sweepMode(o options, stdout, stderr io.Writer) ([]series, error) {
	selected := shapes
	if o.shapes != "" {
		selected = nil
		for _, name := range strings.Split(o.shapes, ",") {
			s, ok := shapeByName(name)
			if !ok {
				return nil, fmt.Errorf("unknown shape %q", name)
			}
			selected = append(selected, s)
		}
	}
	var all []series
	for _, s := range selected {
		for _, checked := range []bool{false, true} {
			if (checked && (o.checks == "raw" || !s.checks)) || (!checked && o.checks == "checked") {
				continue
			}
			ser, err := sweep(s, checked, o, stderr)
			if err != nil {
				return all, err
			}
			all = append(all, ser)
			printSeries(stdout, ser)
		}
	}
	printSummary(stdout, all)
	return all, nil
}

func sweep(s shapeGen, checked bool, o options, stderr io.Writer) (series, error) {
	ser := series{Shape: s.name, Count: s.count, Checked: checked, M: o.m}
	var ps []point
	for n := s.start; ; n *= 2 {
		wasm, err := build(s, n, o.m, checked)
		if err != nil {
			return ser, fmt.Errorf("%s n=%d: %w", s.name, n, err)
		}
		if len(wasm) > o.maxBytes {
			ser.Stop = fmt.Sprintf("module size > %d MiB", o.maxBytes>>20)
			break
		}
		r, err := measure(wasm, o.budget)
		if err != nil {
			return ser, fmt.Errorf("%s n=%d: %w", s.name, n, err)
		}
		fmt.Fprintf(stderr, "%s checked=%v n=%d bytes=%d cpu=%.3fs rss=%.0fMiB %s %s\n",
			s.name, checked, n, r.Bytes, r.CPUSec, r.MaxRSSMiB, r.status(), r.Err)
		ps = append(ps, point{n, r})
		ser.Points = append(ser.Points, jsPoint{n, r})
		switch {
		case r.Killed != "":
			ser.Stop = "child killed: " + r.Killed
		case r.Err != "":
			ser.Stop = "compile error: " + r.Err
		case r.CPUSec > o.maxCPU.Seconds():
			ser.Stop = fmt.Sprintf("CPU > %s", o.maxCPU)
		case r.MaxRSSMiB*(1<<20) > float64(o.maxRSS):
			ser.Stop = fmt.Sprintf("RSS > %d MiB", o.maxRSS>>20)
		}
		if ser.Stop != "" {
			break
		}
	}
	cpu := func(r result) float64 { return r.CPUSec }
	ser.CPUExp = exponent(ps, cpu, 0.05)
	ser.AllocExp = exponent(ps, func(r result) float64 { return r.AllocMiB }, 4)
	ser.At1s = reach(ps, cpu, ser.CPUExp, 1)
	return ser, nil
}

func label(s series) string {
	l := s.Shape
	if s.M > 0 {
		l += fmt.Sprintf(", m=%d", s.M)
	}
	if s.Checked {
		l += " (checked)"
	}
	return l
}

func printSeries(w io.Writer, s series) {
	fmt.Fprintf(w, "\n### %s: n = %s\n\n", label(s), s.Count)
	fmt.Fprintln(w, "| n | module bytes | compile CPU s | peak RSS MiB | peak heap MiB | allocated MiB | status |")
	fmt.Fprintln(w, "|--:|--:|--:|--:|--:|--:|---|")
	for _, p := range s.Points {
		fmt.Fprintf(w, "| %d | %d | %.3f | %.0f | %.0f | %.0f | %s |\n",
			p.N, p.Bytes, p.CPUSec, p.MaxRSSMiB, p.PeakHeapMiB, p.AllocMiB, p.status())
	}
	fmt.Fprintf(w, "\nCPU %s, allocation %s; stopped by %s.\n", growth(s.CPUExp), growth(s.AllocExp), s.Stop)
}

func printSummary(w io.Writer, all []series) {
	fmt.Fprintln(w, "\n### Summary")
	fmt.Fprintln(w, "\n| shape | n counts | CPU growth | alloc growth | n at 1 s CPU (fit) | largest n | its CPU s | its RSS MiB | stopped by |")
	fmt.Fprintln(w, "|---|---|---|---|--:|--:|--:|--:|---|")
	for _, s := range all {
		last := s.Points[len(s.Points)-1]
		for i := len(s.Points) - 1; i >= 0 && s.Points[i].failed(); i-- {
			if i > 0 {
				last = s.Points[i-1]
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %d | %.2f | %.0f | %s |\n", label(s), s.Count,
			growth(s.CPUExp), growth(s.AllocExp), approx(s.At1s), last.N, last.CPUSec, last.MaxRSSMiB, s.Stop)
	}
}

func approx(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func oneMode(o options, stdout io.Writer) (any, error) {
	s, ok := shapeByName(o.shape)
	if !ok {
		return nil, fmt.Errorf("unknown -shape %q", o.shape)
	}
	if o.n <= 0 {
		return nil, errors.New("-n must be positive")
	}
	wasm, err := build(s, o.n, o.m, o.checked)
	if err != nil {
		return nil, err
	}
	if o.profile != "" {
		if err := os.Setenv(profileEnv, o.profile); err != nil {
			return nil, err
		}
	}
	r, err := measure(wasm, o.budget)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "%s n=%d m=%d checked=%v: %d bytes, compile %.3f s wall, %.3f s CPU, peak RSS %.0f MiB, peak heap %.0f MiB, allocated %.0f MiB, %s %s\n",
		s.name, o.n, o.m, o.checked, r.Bytes, r.CompileSec, r.CPUSec, r.MaxRSSMiB, r.PeakHeapMiB, r.AllocMiB, r.status(), r.Err)
	return jsPoint{o.n, r}, nil
}

// realRow is one real module: its shape and its compile, raw and checked.
type realRow struct {
	File     string  `json:"file"`
	Shape    shape   `json:"shape"`
	Estimate float64 `json:"estimate_s"` // cost.go's, with the checks
	Raw      result  `json:"raw"`
	Checked  result  `json:"checked"`
}

func realMode(o options, files []string, stdout, stderr io.Writer) ([]realRow, error) {
	var rows []realRow
	for _, f := range files {
		wasm, err := os.ReadFile(f)
		if err != nil {
			return rows, err
		}
		sh, err := withCost(wasm)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", f, err)
		}
		row := realRow{File: f, Shape: sh, Estimate: sh.Cost / 1e6}
		checked, err := instrument(wasm)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", f, err)
		}
		if b, err := broken(wasm, proposed); err != nil || len(b) > 0 {
			fmt.Fprintf(stderr, "%s breaks the proposed limits: %v %v\n", f, b, err)
		}
		if o.describe {
			rows = append(rows, row)
			continue
		}
		if row.Raw, err = measure(wasm, o.budget); err != nil {
			return rows, err
		}
		if row.Checked, err = measure(checked, o.budget); err != nil {
			return rows, err
		}
		fmt.Fprintf(stderr, "%s: raw %.3fs checked %.3fs\n", f, row.Raw.CPUSec, row.Checked.CPUSec)
		rows = append(rows, row)
	}
	fmt.Fprintln(stdout, "| module | bytes | functions | instructions (max / total) | max locals | max loops | max depth | max br_table | max body bytes | max control | max stack | types | imports | exports | globals | data | elems | params/results | table | compile CPU s raw / checked | estimate s | peak RSS MiB raw / checked |")
	fmt.Fprintln(stdout, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range rows {
		s := r.Shape
		fmt.Fprintf(stdout, "| %s | %d | %d | %d / %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %.3f / %.3f | %.2f | %.0f / %.0f |\n",
			filepath.Base(r.File), s.Bytes, s.Functions, s.MaxInstructions, s.Instructions, s.LocalsPerFunction,
			s.LoopsPerFunction, s.BlockDepth, s.BrTableTargets, s.FunctionBodyBytes, s.ControlPerFunction, s.StackHeight, s.Types, s.Imports, s.Exports,
			s.Globals, s.DataSegments, s.ElementSegments, s.ParamsResults, s.TableSize,
			r.Raw.CPUSec, r.Checked.CPUSec, r.Estimate, r.Raw.MaxRSSMiB, r.Checked.MaxRSSMiB)
	}
	return rows, nil
}

// modelMode checks the cost estimate against a sweep's saved measurements
// (-json of -mode sweep, given as the arguments): for each point it rebuilds
// the module, computes the estimate and reports measured/estimated.
func modelMode(o options, files []string, stdout io.Writer) ([]modelRow, error) {
	if len(files) == 0 {
		return nil, errors.New("-mode model takes the JSON files of sweeps")
	}
	var all []series
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var ss []series
		if json.Unmarshal(b, &ss) != nil || len(ss) == 0 || ss[0].Shape == "" {
			continue // not a sweep: the real, scale and worst modes' files
		}
		all = append(all, ss...)
	}
	var rows []modelRow
	worst := map[bool]modelRow{}
	fmt.Fprintln(stdout, "| shape | n | within per-function limits | measured CPU s | estimate s | measured / estimate |")
	fmt.Fprintln(stdout, "|---|--:|---|--:|--:|--:|")
	for _, s := range all {
		g, ok := shapeByName(s.Shape)
		if !ok {
			continue
		}
		for _, p := range s.Points {
			if p.failed() || p.CPUSec < 0.01 {
				continue
			}
			raw, err := build(g, p.N, s.M, false)
			if err != nil {
				return rows, err
			}
			wasm := raw
			if s.Checked {
				if wasm, err = instrument(raw); err != nil {
					return rows, err
				}
			}
			est, err := moduleCost(wasm)
			if err != nil {
				return rows, err
			}
			row := modelRow{label(s), p.N, s.Checked, p.CPUSec, est / 1e6, withinFunctionLimits(raw, proposed)}
			rows = append(rows, row)
			fmt.Fprintf(stdout, "| %s | %d | %v | %.3f | %.3f | %.2f |\n", row.Shape, row.N, row.Within, row.Measured, row.Model, row.Measured/row.Model)
			if w := worst[row.Within]; row.Measured/row.Model > w.Measured/math.Max(w.Model, 1e-9) || w.Shape == "" {
				worst[row.Within] = row
			}
		}
	}
	for _, within := range []bool{true, false} {
		if w, ok := worst[within]; ok {
			fmt.Fprintf(stdout, "\nLargest measured/estimate with every function within the per-function limits=%v: %.2f (%s, n=%d).\n",
				within, w.Measured/w.Model, w.Shape, w.N)
		}
	}
	return rows, nil
}
