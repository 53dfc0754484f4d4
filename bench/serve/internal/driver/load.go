package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// result is one measured run: how many requests got an answer, how many
// of those failed (non-2xx, a non-OK gRPC status, a transport error), the
// successful ones per second and their latency, and the server's CPU time
// per request.
type result struct {
	count, failed int
	rps           float64
	p50, p99      time.Duration
	firstError    string        // one failure, for the report
	cpuPerRequest time.Duration // the server's CPU time per request, where known
}

// load says what to send: concurrency c, for d or, when n > 0, n requests.
type load struct {
	c int
	d time.Duration
	n int
}

func (l load) heyArgs() []string {
	if l.n > 0 {
		return []string{"-c", strconv.Itoa(l.c), "-n", strconv.Itoa(max(l.n, l.c))}
	}
	return []string{"-c", strconv.Itoa(l.c), "-z", l.d.String()}
}

func (l load) ghzArgs() []string {
	if l.n > 0 {
		return []string{"-c", strconv.Itoa(l.c), "-n", strconv.Itoa(max(l.n, l.c))}
	}
	return []string{"-c", strconv.Itoa(l.c), "-z", l.d.String(), "--duration-stop=wait"}
}

// runTool runs a load generator, bounded by the run's length plus a
// minute, and returns its standard output.
func runTool(ctx context.Context, l load, argv []string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, l.d+time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v: %s", ErrLoad, strings.Join(argv, " "), err, clip(stderr.String()+stdout.String()))
	}
	return stdout.Bytes(), nil
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

// hey runs hey POSTing body (JSON) to url.
func hey(ctx context.Context, bin string, l load, url string, body string) (result, error) {
	argv := append([]string{bin}, l.heyArgs()...)
	argv = append(argv, "-m", "POST", "-T", "application/json", "-d", body, url)
	out, err := runTool(ctx, l, argv)
	if err != nil {
		return result{}, err
	}
	r, err := parseHey(out)
	if err != nil {
		return result{}, fmt.Errorf("%w: hey %s: %v:\n%s", ErrLoad, url, err, clip(string(out)))
	}
	return r, nil
}

var (
	heyRPS     = regexp.MustCompile(`(?m)^\s*Requests/sec:\s+([\d.]+)`)
	heySlowest = regexp.MustCompile(`(?m)^\s*Slowest:\s+([\d.]+) secs`)
	heyLatency = regexp.MustCompile(`(?m)^\s*(\d+)% in ([\d.]+) secs`)
	heyStatus  = regexp.MustCompile(`(?m)^\s*\[(\d+)\]\s+(\d+) responses`)
	heyErrors  = regexp.MustCompile(`(?m)^\s*\[(\d+)\]\s+(.+)$`)
)

// parseHey reads hey's summary: requests per second, the latency
// distribution (to 0.1 ms, hey's resolution), the status codes and the
// error distribution.
func parseHey(out []byte) (result, error) {
	s := string(out)
	var r result
	m := heyRPS.FindStringSubmatch(s)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec line")
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	statusPart, errorPart, _ := strings.Cut(s, "Error distribution:")
	for _, m := range heyStatus.FindAllStringSubmatch(statusPart, -1) {
		code, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[2])
		r.count += n
		if code < 200 || code > 299 {
			r.failed += n
			if r.firstError == "" {
				r.firstError = fmt.Sprintf("%d responses with status %d", n, code)
			}
		}
	}
	for _, m := range heyErrors.FindAllStringSubmatch(errorPart, -1) {
		n, _ := strconv.Atoi(m[1])
		r.count += n
		r.failed += n
		if r.firstError == "" {
			r.firstError = fmt.Sprintf("%d × %s", n, m[2])
		}
	}
	if r.count == 0 {
		return r, fmt.Errorf("no responses")
	}
	for _, m := range heyLatency.FindAllStringSubmatch(s, -1) {
		secs, _ := strconv.ParseFloat(m[2], 64)
		d := time.Duration(secs * float64(time.Second))
		switch m[1] {
		case "50":
			r.p50 = d
		case "99":
			r.p99 = d
		}
	}
	// hey leaves out the 99% line below 100 results: its slowest stands in.
	if m := heySlowest.FindStringSubmatch(s); m != nil && r.p99 == 0 {
		secs, _ := strconv.ParseFloat(m[1], 64)
		r.p99 = time.Duration(secs * float64(time.Second))
	}
	// hey's Requests/sec counts every answer; the rate of successes is
	// what the ratios compare.
	if r.failed > 0 {
		r.rps *= float64(r.count-r.failed) / float64(r.count)
	}
	return r, nil
}

// ghz runs ghz's ModelInfer with data (JSON) against addr.
func ghz(ctx context.Context, bin, proto string, l load, addr, data string) (result, error) {
	argv := append([]string{bin, "--insecure", "--proto", proto, "--call", "inference.GRPCInferenceService/ModelInfer",
		"-d", data, "--format", "json"}, l.ghzArgs()...)
	argv = append(argv, addr)
	out, err := runTool(ctx, l, argv)
	if err != nil {
		return result{}, err
	}
	r, err := parseGhz(out)
	if err != nil {
		return result{}, fmt.Errorf("%w: ghz %s: %v:\n%s", ErrLoad, addr, err, clip(string(out)))
	}
	return r, nil
}

// ghzReport is the part of ghz's JSON report the driver reads; latencies
// are nanoseconds.
type ghzReport struct {
	Count               int            `json:"count"`
	RPS                 float64        `json:"rps"`
	StatusCodes         map[string]int `json:"statusCodeDistribution"`
	ErrorDistribution   map[string]int `json:"errorDistribution"`
	LatencyDistribution []struct {
		Percentage int           `json:"percentage"`
		Latency    time.Duration `json:"latency"`
	} `json:"latencyDistribution"`
}

func parseGhz(out []byte) (result, error) {
	var g ghzReport
	if err := json.Unmarshal(out, &g); err != nil {
		return result{}, fmt.Errorf("report: %v", err)
	}
	r := result{count: g.Count, rps: g.RPS}
	if r.count == 0 {
		return r, fmt.Errorf("no responses")
	}
	codes := make([]string, 0, len(g.StatusCodes))
	for c := range g.StatusCodes {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		if c != "OK" {
			r.failed += g.StatusCodes[c]
			if r.firstError == "" {
				r.firstError = fmt.Sprintf("%d × status %s", g.StatusCodes[c], c)
			}
		}
	}
	for msg, n := range g.ErrorDistribution {
		if r.firstError == "" {
			r.firstError = fmt.Sprintf("%d × %s", n, msg)
		}
	}
	for _, l := range g.LatencyDistribution {
		switch l.Percentage {
		case 50:
			r.p50 = l.Latency
		case 99:
			r.p99 = l.Latency
		}
	}
	return r, nil
}

// parseCLIBench reads the predictions row of `wasmreg bench`'s report:
// PHASE TIME COUNT ERRORS THROUGHPUT P50 P90 P99 MAX.
func parseCLIBench(out []byte) (result, error) {
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 9 || f[0] != "predictions" {
			continue
		}
		var r result
		var err error
		if r.count, err = strconv.Atoi(f[2]); err != nil {
			return r, fmt.Errorf("count %q", f[2])
		}
		if r.failed, err = strconv.Atoi(f[3]); err != nil {
			return r, fmt.Errorf("errors %q", f[3])
		}
		r.count += r.failed
		if r.rps, err = strconv.ParseFloat(strings.TrimSuffix(f[4], "/s"), 64); err != nil {
			return r, fmt.Errorf("throughput %q", f[4])
		}
		if r.p50, err = time.ParseDuration(f[5]); err != nil {
			return r, fmt.Errorf("p50 %q", f[5])
		}
		if r.p99, err = time.ParseDuration(f[7]); err != nil {
			return r, fmt.Errorf("p99 %q", f[7])
		}
		return r, nil
	}
	return result{}, fmt.Errorf("no predictions row")
}
