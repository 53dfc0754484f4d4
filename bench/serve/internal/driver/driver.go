// Package driver is `make bench-serve`: it starts each server of the
// serving benchmarks as a subprocess (bench/serve/cmd/benchserver, in
// wasmreg mode or as the bare baselines), waits for its ready line, drives
// it with hey (REST) or ghz (gRPC) on 127.0.0.1, parses their reports,
// stops the server, and prints a table and the ratios of docs/PERFORMANCE.md's
// "Serving" section.
package driver

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// Sentinel errors of the driver, checked with errors.Is.
var (
	// ErrConfig reports a bad Config.
	ErrConfig = errors.New("driver: invalid config")
	// ErrServer reports a server that failed to start, or failed.
	ErrServer = errors.New("driver: server failed")
	// ErrLoad reports a load generator that failed or whose report is unreadable.
	ErrLoad = errors.New("driver: load generator failed")
	// ErrRequests reports requests that failed: a non-2xx status, a non-OK
	// gRPC status, a transport error.
	ErrRequests = errors.New("driver: requests failed")
)

// Config says where the tools and inputs are and how long to run. It is a
// plain value.
type Config struct {
	Server    string // the benchserver binary
	Wasmreg   string // the wasmreg CLI, for `wasmreg bench`
	Hey, Ghz  string // the load generators
	Proto     string // serve/oippb/open_inference_grpc.proto, for ghz
	Factories string // the directory of echo.wasm, linear.wasm and mlpc.wasm (make examples)
	Weights   string // the digits weights (examples/digits/digits.weights)
	Heldout   string // held-out digits (examples/digits/heldout.csv); the first is the request

	Duration    time.Duration // each run; `wasmreg bench` gets twice that (half of it builds)
	Requests    int           // if > 0, each hey or ghz run sends this many instead (a smoke run)
	Concurrency int           // of cases 1-3 and 5 (default 64)
	DigitsConc  []int         // the concurrencies of the digits case (default 1, 8, 64)
	ProfileDir  string        // if set, each wasmreg server writes a CPU profile there, per case
}

// The echo round trip: the guest gets a 64-byte request and answers its
// config, echoBody, 64 bytes; the bare baselines answer the same bytes.
const (
	echoRequest = "wasmreg bench-serve: a 64-byte request to the echo factory......"
	echoBody    = `{"model_name":"echo","outputs":[{"name":"output","data":[0.5]}]}`
)

// wasmregServer is the argv of the wasmreg server a case starts, serving
// the -model and -artifact flags in args. When `wasmreg serve` exists, this
// is the one line to change: return append([]string{c.Wasmreg, "serve"}, args...)
// (with its flag names, and its ready line as parseReady reads it).
func (c Config) wasmregServer(args ...string) []string {
	return append([]string{c.Server, "-mode", "wasmreg"}, args...)
}

func (c Config) bareServer() []string { return []string{c.Server, "-mode", "bare"} }

func (c Config) check() error {
	for name, p := range map[string]string{"Server": c.Server, "Wasmreg": c.Wasmreg, "Hey": c.Hey, "Ghz": c.Ghz,
		"Proto": c.Proto, "Weights": c.Weights, "Heldout": c.Heldout} {
		if p == "" {
			return fmt.Errorf("%w: %s is empty", ErrConfig, name)
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%w: %s: %v (make deps installs hey and ghz; make examples wasmreg builds the rest)", ErrConfig, name, err)
		}
	}
	for _, f := range []string{"echo.wasm", "linear.wasm", "mlpc.wasm"} {
		if _, err := os.Stat(filepath.Join(c.Factories, f)); err != nil {
			return fmt.Errorf("%w: Factories: %v (make examples builds it)", ErrConfig, err)
		}
	}
	if c.Duration <= 0 {
		return fmt.Errorf("%w: Duration %v is not positive", ErrConfig, c.Duration)
	}
	if c.Requests < 0 || c.Concurrency < 0 {
		return fmt.Errorf("%w: Requests %d, Concurrency %d: want ≥ 0", ErrConfig, c.Requests, c.Concurrency)
	}
	for _, n := range c.DigitsConc {
		if n < 1 {
			return fmt.Errorf("%w: DigitsConc %v: want positive", ErrConfig, c.DigitsConc)
		}
	}
	return nil
}

// row is one line of the table.
type row struct {
	caseName, server string
	conc             int
	r                result
}

// Report is what Run measured. It is a plain value.
type Report struct {
	rows   []row
	ratios []ratio
	notes  []string
}

// ratio is a wasmreg figure over its baseline, with its target (0: none).
type ratio struct {
	name     string
	num, den float64
	target   float64
}

// Run measures every case and writes progress to log. It fails if a
// server fails to start or any request fails; it does not fail on a missed
// target. It is safe to call from several goroutines, but the runs would
// share the machine's cores.
func Run(ctx context.Context, c Config, log io.Writer) (*Report, error) {
	if c.Concurrency == 0 {
		c.Concurrency = 64
	}
	if len(c.DigitsConc) == 0 {
		c.DigitsConc = []int{1, 8, 64}
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	digit, err := firstDigit(c.Heldout)
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	l := load{c: c.Concurrency, d: c.Duration, n: c.Requests}
	echo := filepath.Join(c.Factories, "echo.wasm")
	echoREST := oipBytes(echoRequest)
	echoGRPC := fmt.Sprintf(`{"model_name":"echo","inputs":[{"name":"x","datatype":"BYTES","shape":[1],"contents":{"bytes_contents":[%q]}}]}`,
		base64.StdEncoding.EncodeToString([]byte(echoRequest)))

	// 1, 2 and 5: echo over REST and gRPC, and the bare servers.
	var wREST, bREST, wGRPC, bGRPC result
	var procs int
	err = c.with(ctx, log, "echo", c.wasmregServer("-model", "name=echo,file="+echo+",config="+echoBody), func(s *server) error {
		procs = s.gomaxprocs
		if wREST, err = c.heyRow(ctx, log, rep, "1. REST infer, echo", "wasmreg", l, "http://"+s.httpAddr+"/v2/models/echo/infer", echoREST); err != nil {
			return err
		}
		wGRPC, err = c.ghzRow(ctx, log, rep, "2. gRPC ModelInfer, echo", "wasmreg", l, s.grpcAddr, echoGRPC)
		return err
	})
	if err != nil {
		return rep, err
	}
	err = c.with(ctx, log, "", c.bareServer(), func(s *server) error {
		if bREST, err = c.heyRow(ctx, log, rep, "1. REST infer, echo", "bare net/http", l, "http://"+s.httpAddr+"/v2/models/echo/infer", echoREST); err != nil {
			return err
		}
		bGRPC, err = c.ghzRow(ctx, log, rep, "2. gRPC ModelInfer, echo", "bare grpc-go", l, s.grpcAddr, echoGRPC)
		return err
	})
	if err != nil {
		return rep, err
	}
	rep.ratios = append(rep.ratios,
		ratio{name: "1. REST rps, wasmreg / bare net/http", num: wREST.rps, den: bREST.rps, target: 0.7},
		ratio{name: "2. gRPC rps, wasmreg / bare grpc-go", num: wGRPC.rps, den: bGRPC.rps, target: 0.7})

	// 3: the Go linear factory, a pool against a fresh sandbox per request.
	linear := filepath.Join(c.Factories, "linear.wasm")
	var model, request result
	err = c.with(ctx, log, "isolation", c.wasmregServer(
		"-model", "name=linear,file="+linear+",isolation=model,config="+linearConfig,
		"-model", "name=linear-request,file="+linear+",isolation=request,config="+linearConfig), func(s *server) error {
		body := oipRow("FP32", "[1.5,2.5]", 2)
		if model, err = c.heyRow(ctx, log, rep, "3. REST infer, linear (Go guest)", "isolation model", l, "http://"+s.httpAddr+"/v2/models/linear/infer", body); err != nil {
			return err
		}
		request, err = c.heyRow(ctx, log, rep, "3. REST infer, linear (Go guest)", "isolation request", l, "http://"+s.httpAddr+"/v2/models/linear-request/infer", body)
		return err
	})
	if err != nil {
		return rep, err
	}
	rep.ratios = append(rep.ratios, ratio{name: "3. rps, isolation request / model (Go guest)", num: request.rps, den: model.rps, target: 0.5})

	// 4: the digits MLP in C, served and in `wasmreg bench`.
	mlpc := filepath.Join(c.Factories, "mlpc.wasm")
	served := map[int]result{}
	err = c.with(ctx, log, "digits", c.wasmregServer("-artifact", "digits="+c.Weights,
		"-model", "name=digits,file="+mlpc+`,config={"weights":"digits"}`), func(s *server) error {
		for _, n := range c.DigitsConc {
			dl := load{c: n, d: c.Duration, n: c.Requests}
			r, err := c.heyRow(ctx, log, rep, "4. REST infer, digits (C guest)", "wasmreg serve", dl, "http://"+s.httpAddr+"/v2/models/digits/infer", oipRow("FP32", digit, 64))
			if err != nil {
				return err
			}
			served[n] = r
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	for _, n := range c.DigitsConc {
		r, err := c.cliBench(ctx, log, mlpc, digit, n)
		if err != nil {
			return rep, err
		}
		rep.rows = append(rep.rows, row{"4. digits (C guest), in process", "wasmreg bench", n, r})
		rep.ratios = append(rep.ratios, ratio{name: fmt.Sprintf("4. digits rps at c=%d, served / wasmreg bench", n), num: served[n].rps, den: r.rps})
	}

	// 5: the echo REST figure per core, next to wasmCloud's hello world.
	perCore := wREST.rps / float64(procs)
	rep.notes = append(rep.notes, fmt.Sprintf(
		"5. per core: wasmreg REST echo %.0f rps / GOMAXPROCS %d = %.0f rps per core (hey -c %d on the same cores); "+
			"wasmCloud's published hello-world component: ~22,000 rps on a 10-16-core machine with hey -c 150, ~1,400-2,200 rps per core",
		wREST.rps, procs, perCore, c.Concurrency))
	rep.ratios = append(rep.ratios, ratio{name: "5. rps per core, wasmreg echo / wasmCloud hello world (best case, 10 cores)", num: perCore, den: 22000.0 / 10})
	return rep, nil
}

// linearConfig is the linear factory's model: y = 0.5 x0 - 0.25 x1 + 1.
const linearConfig = `{"weights":[0.5,-0.25],"bias":1}`

// with starts a server (what names its profile, "" for none), runs f on
// it and stops it. A server that fails while f runs fails the case.
func (c Config) with(ctx context.Context, log io.Writer, what string, argv []string, f func(*server) error) error {
	if c.ProfileDir != "" && what != "" {
		argv = append(argv[:len(argv):len(argv)], "-cpuprofile", filepath.Join(c.ProfileDir, what+".pprof"))
	}
	fmt.Fprintf(log, "start %s\n", strings.Join(argv, " "))
	s, err := start(ctx, strings.Join(argv[:min(3, len(argv))], " "), argv)
	if err != nil {
		return err
	}
	ferr := f(s)
	serr := s.stop()
	if ferr != nil {
		return ferr
	}
	return serr
}

func (c Config) heyRow(ctx context.Context, log io.Writer, rep *Report, name, srv string, l load, url, body string) (result, error) {
	fmt.Fprintf(log, "hey  %s, %s, c=%d\n", name, srv, l.c)
	r, err := hey(ctx, c.Hey, l, url, body)
	return r, rep.add(row{name, srv, l.c, r}, err)
}

func (c Config) ghzRow(ctx context.Context, log io.Writer, rep *Report, name, srv string, l load, addr, data string) (result, error) {
	fmt.Fprintf(log, "ghz  %s, %s, c=%d\n", name, srv, l.c)
	r, err := ghz(ctx, c.Ghz, c.Proto, l, addr, data)
	return r, rep.add(row{name, srv, l.c, r}, err)
}

// add records a row; failed requests fail the run.
func (rep *Report) add(r row, err error) error {
	if err != nil {
		return err
	}
	rep.rows = append(rep.rows, r)
	if r.r.failed > 0 {
		return fmt.Errorf("%w: %s, %s, c=%d: %d of %d failed, e.g. %s", ErrRequests, r.caseName, r.server, r.conc, r.r.failed, r.r.count, r.r.firstError)
	}
	return nil
}

// cliBench runs `wasmreg bench` on the digits factory at concurrency n for
// twice the duration: half building, half predicting, as its doc says.
func (c Config) cliBench(ctx context.Context, log io.Writer, mlpc, digit string, n int) (result, error) {
	in, err := os.CreateTemp("", "bench-serve-digit-*.txt")
	if err != nil {
		return result{}, fmt.Errorf("driver: request file for wasmreg bench: %w", err)
	}
	defer os.Remove(in.Name())
	_, err = in.WriteString(digit + "\n")
	if cerr := in.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return result{}, fmt.Errorf("driver: request file for wasmreg bench: %w", err)
	}
	d := 2 * c.Duration
	argv := []string{c.Wasmreg, "bench", mlpc, "--grant", "artifact=digits=" + c.Weights, "--config", `{"weights":"digits"}`,
		"--input", in.Name(), "--concurrency", fmt.Sprint(n), "--duration", d.String()}
	fmt.Fprintf(log, "run  %s\n", strings.Join(argv, " "))
	out, err := runTool(ctx, load{d: d}, argv)
	if err != nil {
		return result{}, err
	}
	r, err := parseCLIBench(out)
	if err != nil {
		return result{}, fmt.Errorf("%w: wasmreg bench: %v:\n%s", ErrLoad, err, clip(string(out)))
	}
	if r.failed > 0 {
		return r, fmt.Errorf("%w: wasmreg bench at c=%d: %d of %d predictions failed:\n%s", ErrRequests, n, r.failed, r.count, clip(string(out)))
	}
	return r, nil
}

// oipBytes is an OIP REST infer body of one BYTES element.
func oipBytes(s string) string {
	return fmt.Sprintf(`{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":[%q]}]}`, s)
}

// oipRow is an OIP REST infer body of one row of width values.
func oipRow(datatype, data string, width int) string {
	return fmt.Sprintf(`{"inputs":[{"name":"x","shape":[1,%d],"datatype":%q,"data":%s}]}`, width, datatype, data)
}

// firstDigit is the first held-out digit's 64 pixels as a JSON array
// (its last column, the label, left out).
func firstDigit(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%w: Heldout: %v", ErrConfig, err)
	}
	defer f.Close()
	rec, err := csv.NewReader(f).Read()
	if err != nil || len(rec) != 65 {
		return "", fmt.Errorf("%w: Heldout %s: first line: want 65 columns (64 pixels and a label), got %d (%v)", ErrConfig, path, len(rec), err)
	}
	return "[" + strings.Join(rec[:64], ",") + "]", nil
}

// Write prints the table and the ratios.
func (rep *Report) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tSERVER\tC\tREQUESTS\tFAILED\tRPS\tP50\tP99")
	for _, r := range rep.rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.0f\t%s\t%s\n", r.caseName, r.server, r.conc, r.r.count, r.r.failed, r.r.rps, ms(r.r.p50), ms(r.r.p99))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, r := range rep.ratios {
		v := r.num / r.den
		verdict := ""
		if r.target > 0 {
			verdict = fmt.Sprintf(" (target ≥ %.1f×): target met", r.target)
			if !(v >= r.target) {
				verdict = fmt.Sprintf(" (target ≥ %.1f×): target missed", r.target)
			}
		}
		if _, err := fmt.Fprintf(w, "%s: %.0f / %.0f = %.2f×%s\n", r.name, r.num, r.den, v, verdict); err != nil {
			return err
		}
	}
	for _, n := range rep.notes {
		if _, err := fmt.Fprintln(w, n); err != nil {
			return err
		}
	}
	return nil
}

// ms formats a latency in milliseconds, or in microseconds below one
// (hey's resolution is 0.1 ms: its 0 is "<0.1ms").
func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "<0.1ms"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
