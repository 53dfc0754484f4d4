package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wasmreg/wasmreg/serve/oippb"
)

// root is the repository's root, from this package's directory.
const root = "../../../.."

// ghzPath is the Makefile's GHZ, so that the test follows its pinned version.
func ghzPath(t *testing.T) string {
	t.Helper()
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^GHZ\s*:=\s*\$\(TOOLS\)/(\S+)`).FindSubmatch(mk)
	require.NotNil(t, m, "the Makefile defines no GHZ := $(TOOLS)/...")
	return filepath.Join(root, "build", "tools", string(m[1]))
}

// binDir holds the binaries the tests build, once each.
var (
	binDir   string
	binMu    sync.Mutex
	binBuilt = map[string]string{}
)

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "bench-serve-test-"); err != nil {
		panic(err)
	}
	code := m.Run()
	_ = os.RemoveAll(binDir)
	os.Exit(code)
}

// goBuild builds pkg (relative to the root) once, and returns its binary.
func goBuild(t *testing.T, pkg string) string {
	t.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	if out, ok := binBuilt[pkg]; ok {
		return out
	}
	out := filepath.Join(binDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build %s: %s", pkg, b)
	binBuilt[pkg] = out
	return out
}

// smokeConfig is a Config of freshly built servers and the installed tools;
// a missing tool or factory fails the test with how to get it.
func smokeConfig(t *testing.T) Config {
	t.Helper()
	heyBin, err := exec.LookPath("hey")
	if err != nil {
		t.Fatalf("hey is not on PATH: run make deps (it installs Debian's hey): %v", err)
	}
	ghzBin := ghzPath(t)
	if _, err := os.Stat(ghzBin); err != nil {
		t.Fatalf("ghz is missing: run make deps: %v", err)
	}
	factories := filepath.Join(root, "build", "factories")
	for _, f := range []string{"echo.wasm", "linear.wasm", "mlpc.wasm"} {
		if _, err := os.Stat(filepath.Join(factories, f)); err != nil {
			t.Fatalf("%s is missing: run make examples: %v", f, err)
		}
	}
	return Config{
		Server:    goBuild(t, "./bench/serve/cmd/benchserver"),
		Wasmreg:   goBuild(t, "./cmd/wasmreg"),
		Hey:       heyBin,
		Ghz:       ghzBin,
		Proto:     filepath.Join(root, "serve", "oippb", "open_inference_grpc.proto"),
		Factories: factories,
		Weights:   filepath.Join(root, "examples", "digits", "digits.weights"),
		Heldout:   filepath.Join(root, "examples", "digits", "heldout.csv"),
	}
}

// TestSmoke runs every case of make bench-serve in a tiny mode (one
// round of 48 requests a run, concurrency 8: about 500 requests in all),
// so that the driver, the servers and the parsing of hey's, ghz's and
// wasmreg bench's reports cannot rot.
func TestSmoke(t *testing.T) {
	c := smokeConfig(t)
	c.Duration, c.Requests, c.Concurrency, c.DigitsConc, c.Rounds = 100*time.Millisecond, 48, 8, []int{1, 4}, 1
	c.ProfileDir = t.TempDir()
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := Run(ctx, c, &log)
	require.NoError(t, err, "log:\n%s", log.String())

	want := []struct{ caseName, server string }{
		{"1. REST infer, echo", "wasmreg"}, {"1. REST infer, echo", "bare net/http"},
		{"2. gRPC ModelInfer, echo", "wasmreg"}, {"2. gRPC ModelInfer, echo", "bare grpc-go"},
		{"3. REST infer, linear (Go guest)", "isolation model"}, {"3. REST infer, linear (Go guest)", "isolation request"},
		{"3b. REST infer, echo (WAT guest)", "isolation model"}, {"3b. REST infer, echo (WAT guest)", "isolation request"},
		{"4. REST infer, digits (C guest)", "served"}, {"4. REST infer, digits (C guest)", "served"},
		{"4. digits (C guest), in process", "wasmreg bench"}, {"4. digits (C guest), in process", "wasmreg bench"},
	}
	require.Len(t, rep.rows, len(want))
	for i, w := range want {
		r := rep.rows[i]
		assert.Equal(t, w.caseName, r.caseName, "row %d", i)
		assert.Equal(t, w.server, r.server, "row %d", i)
		if i < 10 { // hey's and ghz's rows
			assert.Equal(t, 48, r.r.count, "row %d: requests", i)
		}
		assert.Positive(t, r.r.count, "row %d: requests", i)
		assert.Zero(t, r.r.failed, "row %d: failed", i)
		assert.Positive(t, r.r.rps, "row %d: rps", i)
		assert.GreaterOrEqual(t, r.r.p99, r.r.p50, "row %d: p99 ≥ p50", i)
	}
	assert.Equal(t, 8, rep.rows[0].conc)
	for i := range 4 { // the echo servers serve one target each
		assert.Positive(t, rep.rows[i].r.cpuPerRequest, "row %d: server CPU per request", i)
		assert.Less(t, rep.rows[i].r.cpuPerRequest, 100*time.Millisecond, "row %d: server CPU per request", i)
	}
	assert.Zero(t, rep.rows[4].r.cpuPerRequest, "a server of two targets: not known")
	assert.Equal(t, []int{1, 4}, []int{rep.rows[8].conc, rep.rows[9].conc})

	var out bytes.Buffer
	require.NoError(t, rep.Write(&out))
	verdicts := regexp.MustCompile(`target (met|missed)`).FindAllString(out.String(), -1)
	assert.Len(t, verdicts, 3, "a verdict per ratio with a target:\n%s", out.String())
	assert.Contains(t, out.String(), "rps per core")
	assert.Contains(t, out.String(), "requests per second of the server's own CPU")
	assert.Contains(t, out.String(), "SERVER CPU/REQ")
	assert.Equal(t, runtime.GOMAXPROCS(0), rep.gomaxprocs)
	for _, p := range []string{"rest-wasmreg", "rest-bare", "grpc-wasmreg", "grpc-bare", "isolation", "isolation-echo", "digits"} {
		fi, err := os.Stat(filepath.Join(c.ProfileDir, p+".pprof"))
		require.NoError(t, err, "profile of %s", p)
		assert.Positive(t, fi.Size(), "profile of %s", p)
	}
}

// TestSameAnswer checks that the baselines answer what wasmreg's echo
// model does: echoBody, 64 bytes, over REST and gRPC.
func TestSameAnswer(t *testing.T) {
	bin := goBuild(t, "./bench/serve/cmd/benchserver")
	c := Config{Server: bin}
	require.Len(t, echoBody, 64)
	require.Len(t, echoRequest, 64)
	ctx := context.Background()

	argv, err := c.wasmregServer(t.TempDir(), "-model", "name=echo,file="+filepath.Join(root, "host", "testdata", "echo.wasm")+",config="+echoBody)
	require.NoError(t, err)
	w, err := start(ctx, "wasmreg", argv)
	require.NoError(t, err)
	defer w.stop()
	b, err := start(ctx, "bare", c.bareServer())
	require.NoError(t, err)
	defer b.stop()

	body := post(t, "http://"+w.httpAddr+"/v2/models/echo/infer", oipBytes(echoRequest))
	var resp struct {
		Outputs []struct {
			Datatype string   `json:"datatype"`
			Data     []string `json:"data"`
		} `json:"outputs"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &resp), body)
	require.Len(t, resp.Outputs, 1)
	assert.Equal(t, "BYTES", resp.Outputs[0].Datatype)
	assert.Equal(t, []string{echoBody}, resp.Outputs[0].Data)
	assert.Equal(t, echoBody, post(t, "http://"+b.httpAddr+"/v2/models/echo/infer", oipBytes(echoRequest)))

	req := &oippb.ModelInferRequest{ModelName: "echo", Inputs: []*oippb.ModelInferRequest_InferInputTensor{{
		Name: "x", Datatype: "BYTES", Shape: []int64{1}, Contents: &oippb.InferTensorContents{BytesContents: [][]byte{[]byte(echoRequest)}}}}}
	var answers []*oippb.ModelInferResponse
	for _, addr := range []string{w.grpcAddr, b.grpcAddr} {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err)
		defer conn.Close()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		r, err := oippb.NewGRPCInferenceServiceClient(conn).ModelInfer(cctx, req)
		require.NoError(t, err, addr)
		answers = append(answers, r)
	}
	for i, r := range answers {
		require.Len(t, r.GetOutputs(), 1, "server %d", i)
		assert.Equal(t, "echo", r.GetModelName(), "server %d", i)
		assert.Equal(t, "BYTES", r.GetOutputs()[0].GetDatatype(), "server %d", i)
		assert.Equal(t, [][]byte{[]byte(echoBody)}, r.GetOutputs()[0].GetContents().GetBytesContents(), "server %d", i)
	}
	require.NoError(t, w.stop())
	require.NoError(t, b.stop())
}

func post(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	return string(b)
}

func TestServerFailures(t *testing.T) {
	bin := goBuild(t, "./bench/serve/cmd/benchserver")
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		argv []string
		want string
	}{
		{"exits at once", []string{"false"}, "exited before it was ready"},
		{"bad flag", []string{bin, "-mode", "nonsense"}, `-mode "nonsense"`},
		{"missing factory", []string{bin, "-model", "name=x,file=/nonexistent.wasm"}, "nonexistent.wasm"},
		{"not loopback", []string{bin, "-mode", "bare", "-http", "0.0.0.0:0"}, "loopback"},
		{"not a factory", []string{bin, "-model", "name=x,file=" + bin}, `model "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := start(ctx, tc.name, tc.argv)
			require.ErrorIs(t, err, ErrServer)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestServeCLI runs the echo and digits cases with `wasmreg serve` as the
// wasmreg side, so that the driver's models file and its reading of the
// command's listening and ready lines keep up with the command.
func TestServeCLI(t *testing.T) {
	c := smokeConfig(t)
	c.Duration, c.Requests, c.Concurrency, c.Rounds, c.DigitsConc = 100*time.Millisecond, 48, 4, 1, []int{2}
	c.Cases, c.ServeCLI = []string{"1", "2", "4"}, true
	var log bytes.Buffer
	rep, err := Run(context.Background(), c, &log)
	require.NoError(t, err, "log:\n%s", log.String())
	require.Len(t, rep.rows, 6)
	for i, r := range rep.rows[:5] {
		assert.Equal(t, 48, r.r.count, "row %d", i)
		assert.Zero(t, r.r.failed, "row %d", i)
	}
	assert.Equal(t, "served", rep.rows[4].server)
	assert.Positive(t, rep.rows[0].r.cpuPerRequest, "wasmreg serve's CPU time")
	assert.Positive(t, rep.rows[1].r.cpuPerRequest, "the bare benchserver's")
	assert.Contains(t, log.String(), c.Wasmreg+" serve --models ")
	var out bytes.Buffer
	require.NoError(t, rep.Write(&out))
	assert.Contains(t, out.String(), "wasmreg side: wasmreg serve")
}

func TestConfigCheck(t *testing.T) {
	c := Config{Server: "/nonexistent/benchserver"}
	_, err := Run(context.Background(), c, io.Discard)
	require.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), "/nonexistent/benchserver")
}

// TestCases runs only the gRPC case: one server pair, two rows, one ratio.
func TestCases(t *testing.T) {
	c := smokeConfig(t)
	c.Duration, c.Requests, c.Concurrency, c.Rounds, c.Cases = 100*time.Millisecond, 48, 4, 1, []string{"2"}
	rep, err := Run(context.Background(), c, io.Discard)
	require.NoError(t, err)
	require.Len(t, rep.rows, 2)
	assert.Equal(t, "2. gRPC ModelInfer, echo", rep.rows[0].caseName)
	require.Len(t, rep.ratios, 1)
	assert.Equal(t, "2. gRPC rps, wasmreg / bare grpc-go", rep.ratios[0].name)

	c.Cases = []string{"6"}
	_, err = Run(context.Background(), c, io.Discard)
	require.ErrorIs(t, err, ErrConfig)
}

func TestParseHey(t *testing.T) {
	const ok = `
Summary:
  Total:	1.0013 secs
  Slowest:	0.0250 secs
  Fastest:	0.0001 secs
  Average:	0.0040 secs
  Requests/sec:	15000.5000

  Total data:	960000 bytes
  Size/request:	64 bytes

Response time histogram:
  0.000 [1]	|

Latency distribution:
  10% in 0.0010 secs
  50% in 0.0030 secs
  99% in 0.0200 secs

Details (average, fastest, slowest):
  req write:	0.0000 secs, 0.0000 secs, 0.0010 secs

Status code distribution:
  [200]	15000 responses
`
	for _, tc := range []struct {
		name                 string
		out                  string
		count, failed        int
		rps                  float64
		p50, p99             time.Duration
		firstError, parseErr string
	}{
		{name: "all 200", out: ok, count: 15000, rps: 15000.5, p50: 3 * time.Millisecond, p99: 20 * time.Millisecond},
		{name: "some 503 and errors", out: ok + "  [503]\t5000 responses\n\nError distribution:\n  [10]\tPost \"http://127.0.0.1:1/\": EOF\n",
			count: 20010, failed: 5010, rps: 15000.5 * 15000 / 20010, p50: 3 * time.Millisecond, p99: 20 * time.Millisecond,
			firstError: "5000 responses with status 503"},
		{name: "only errors", out: "Summary:\n  Requests/sec:\t0.0000\n\nError distribution:\n  [64]\tdial tcp: connection refused\n",
			count: 64, failed: 64, firstError: "64 × dial tcp: connection refused"},
		{name: "under 100 results, no 99% line", out: strings.Replace(ok, "  99% in 0.0200 secs\n", "", 1),
			count: 15000, rps: 15000.5, p50: 3 * time.Millisecond, p99: 25 * time.Millisecond},
		{name: "not hey", out: "hello", parseErr: "no Requests/sec line"},
		{name: "no responses", out: "Summary:\n  Requests/sec:\t0.0000\n", parseErr: "no responses"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseHey([]byte(tc.out))
			if tc.parseErr != "" {
				require.ErrorContains(t, err, tc.parseErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.count, r.count)
			assert.Equal(t, tc.failed, r.failed)
			assert.InDelta(t, tc.rps, r.rps, 0.01)
			assert.InDelta(t, float64(tc.p50), float64(r.p50), 1000)
			assert.InDelta(t, float64(tc.p99), float64(r.p99), 1000)
			assert.Equal(t, tc.firstError, r.firstError)
		})
	}
}

func TestParseGhz(t *testing.T) {
	for _, tc := range []struct {
		name          string
		out           string
		count, failed int
		p50           time.Duration
		parseErr      string
	}{
		{name: "ok", out: `{"count":300,"rps":12000.5,"statusCodeDistribution":{"OK":300},"latencyDistribution":[{"percentage":50,"latency":4000000},{"percentage":99,"latency":9000000}]}`,
			count: 300, p50: 4 * time.Millisecond},
		{name: "unavailable", out: `{"count":300,"rps":1,"statusCodeDistribution":{"OK":200,"Unavailable":100},"errorDistribution":{"rpc error: code = Unavailable":100}}`,
			count: 300, failed: 100},
		{name: "not JSON", out: "oops", parseErr: "report"},
		{name: "empty", out: `{"count":0}`, parseErr: "no responses"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseGhz([]byte(tc.out))
			if tc.parseErr != "" {
				require.ErrorContains(t, err, tc.parseErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.count, r.count)
			assert.Equal(t, tc.failed, r.failed)
			assert.Equal(t, tc.p50, r.p50)
			if tc.failed > 0 {
				assert.Contains(t, r.firstError, "Unavailable")
			}
		})
	}
}

func TestParseCLIBench(t *testing.T) {
	const out = "factory:   mlpc@1.0.0, sha256 0123456789ab… (build/factories/mlpc.wasm)\n" +
		"settings:  concurrency 8, GOMAXPROCS 2, 1s building then 1s predicting, 1 request in turn\n\n" +
		"PHASE        TIME   COUNT   ERRORS  THROUGHPUT  P50     P90     P99     MAX\n" +
		"builds       1.00s  5000    0       5000/s      1.05ms  2.00ms  3.00ms  9.00ms\n" +
		"predictions  1.00s  300000  2       300000/s    3.10µs  5.00µs  80.0µs  2.00ms\n"
	r, err := parseCLIBench([]byte(out))
	require.NoError(t, err)
	assert.Equal(t, 300002, r.count)
	assert.Equal(t, 2, r.failed)
	assert.InDelta(t, 300000, r.rps, 0.1)
	assert.Equal(t, 3100*time.Nanosecond, r.p50)
	assert.Equal(t, 80*time.Microsecond, r.p99)

	_, err = parseCLIBench([]byte("predictions  -  -  -  -  -  -  -  -\n"))
	require.Error(t, err)
	_, err = parseCLIBench([]byte("nothing"))
	require.ErrorContains(t, err, "no predictions row")
}

func TestAggregate(t *testing.T) {
	a := aggregate([]result{
		{count: 100, rps: 1000, p50: 3 * time.Millisecond, p99: 9 * time.Millisecond},
		{count: 200, rps: 2000, p50: 1 * time.Millisecond, p99: 30 * time.Millisecond},
		{count: 300, rps: 3000, p50: 2 * time.Millisecond, p99: 10 * time.Millisecond},
	})
	assert.Equal(t, 600, a.count)
	assert.InDelta(t, 2000, a.rps, 1e-9)
	assert.Equal(t, 2*time.Millisecond, a.p50)
	assert.Equal(t, 10*time.Millisecond, a.p99)
	assert.Equal(t, result{}, aggregate(nil))
}
