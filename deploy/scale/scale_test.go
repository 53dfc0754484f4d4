// Package scale_test runs wasmreg serve as users scale it out: three
// replicas on loopback, each serving one factory by digest from a real OCI
// registry (Debian's docker-registry), behind a real load balancer
// (Debian's haproxy) that health-checks /v2/health/ready, retries and
// redispatches, under a fixed rate of requests from a real load generator
// (hey), while one replica is SIGKILLed and restarted and then every
// replica is rolled, one at a time, to a new digest. `make scale-test` runs
// it; docs/DEPLOY.md reports its figures.
package scale_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/internal/oci/ocitest"
)

const (
	replicas = 3
	model    = "echo"
	// The load: hey's workers × their rate each, for loadTime.
	heyWorkers = 4
	heyRate    = 25 // requests per second per worker: 100 in all
	loadTime   = 24 * time.Second
)

var inferBody = []byte(`{"inputs":[{"name":"input","datatype":"BYTES","shape":[1],"data":["hello"]}]}`)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	return root
}

func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (run `make deps`): %v", name, err)
	}
	return p
}

func wasmregBin(t *testing.T) string {
	t.Helper()
	p := filepath.Join(repoRoot(t), "build", "bin", "wasmreg")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no %s (run `make wasmreg`): %v", p, err)
	}
	return p
}

// countingProxy forwards to the registry and counts the GETs of each blob,
// so that the test can tell how often replicas fetched a module.
type countingProxy struct {
	mu    sync.Mutex
	blobs map[string]int // digest → GETs
}

var blobPath = regexp.MustCompile(`^/v2/.+/blobs/(sha256:[0-9a-f]{64})$`)

func (c *countingProxy) count(digest string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blobs[digest]
}

func startProxy(t *testing.T, registry string) (*countingProxy, string) {
	t.Helper()
	target, err := url.Parse("http://" + registry)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(target)
	c := &countingProxy{blobs: map[string]int{}}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := blobPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodGet {
			c.mu.Lock()
			c.blobs[m[1]]++
			c.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return c, strings.TrimPrefix(ts.URL, "http://")
}

// push pushes module under ref with wasmreg push and returns the
// digest-pinned reference and the module's blob digest.
func push(t *testing.T, module []byte, ref string) (pinned, blob string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "f.wasm")
	require.NoError(t, os.WriteFile(file, module, 0o644))
	out, err := exec.Command(wasmregBin(t), "--cache-dir", t.TempDir(), "push", file, ref).Output()
	require.NoError(t, err, "wasmreg push %s", ref)
	pinned = strings.TrimSpace(string(out))
	_, digest, ok := strings.Cut(pinned, "@")
	require.True(t, ok && strings.HasPrefix(pinned, ref+"@sha256:"), pinned)
	repo := ref[:strings.LastIndexByte(ref, ':')]
	sum := sha256.Sum256(module)
	return repo + "@" + digest, "sha256:" + hex.EncodeToString(sum[:])
}

type replica struct {
	i        int
	port     int
	cacheDir string
	cmd      *exec.Cmd
	exited   chan error
	log      *bytes.Buffer
	mu       *sync.Mutex
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

var listening = regexp.MustCompile(`listening rest=127\.0\.0\.1:(\d+)`)

// start starts the replica on ref and waits until it is ready; it
// returns how long that took.
func (r *replica) start(t *testing.T, ref string) time.Duration {
	t.Helper()
	begin := time.Now()
	addr := "127.0.0.1:" + strconv.Itoa(r.port)
	r.log, r.mu = &bytes.Buffer{}, &sync.Mutex{}
	pr, pw := io.Pipe()
	cmd := exec.Command(wasmregBin(t), "--cache-dir", r.cacheDir, "serve", ref,
		"--name", model, "--instances", "2", "--rest-addr", addr, "--grpc-addr", "off",
		"--drain-delay", "1s", "--shutdown-timeout", "10s", "--watch=false")
	cmd.Stdout = lockedWriter{r.mu, r.log}
	cmd.Stderr = io.MultiWriter(lockedWriter{r.mu, r.log}, pw)
	require.NoError(t, cmd.Start())
	r.cmd, r.exited = cmd, make(chan error, 1)
	go func() { err := cmd.Wait(); pw.Close(); r.exited <- err }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	portc := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				p, _ := strconv.Atoi(m[1])
				select {
				case portc <- p:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case r.port = <-portc:
	case err := <-r.exited:
		t.Fatalf("replica %d exited before listening: %v\n%s", r.i, err, r.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("replica %d did not listen in 30 s\n%s", r.i, r.output())
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v2/health/ready", r.port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(begin)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("replica %d not ready in 60 s\n%s", r.i, r.output())
	return 0
}

func (r *replica) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log.String()
}

// stop sends sig and waits for the exit.
func (r *replica) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	require.NoError(t, r.cmd.Process.Signal(sig))
	select {
	case err := <-r.exited:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("replica %d did not exit 30 s after %v\n%s", r.i, sig, r.output())
		return nil
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startHAProxy(t *testing.T, ports []int) string {
	t.Helper()
	bin := tool(t, "haproxy")
	front := freePort(t)
	var servers strings.Builder
	for i, p := range ports {
		fmt.Fprintf(&servers, "    server r%d 127.0.0.1:%d check\n", i, p)
	}
	// Inference is stateless here (one pooled model, no state between
	// requests), so a request that a replica dropped is safe to replay on
	// another: retry-on covers a refused connection, a connection closed
	// without an answer (SIGKILL) and a 503 (a replica that is draining).
	cfg := fmt.Sprintf(`global
    maxconn 1024
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response 503
frontend fe
    bind 127.0.0.1:%d
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /v2/health/ready
    http-check expect status 200
    default-server inter 200ms fall 1 rise 2
%s`, front, servers.String())
	file := filepath.Join(t.TempDir(), "haproxy.cfg")
	require.NoError(t, os.WriteFile(file, []byte(cfg), 0o600))
	out, err := exec.Command(bin, "-c", "-f", file).CombinedOutput()
	require.NoError(t, err, "haproxy -c: %s", out)
	var log bytes.Buffer
	cmd := exec.Command(bin, "-db", "-f", file)
	cmd.Stdout, cmd.Stderr = &log, &log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return fmt.Sprintf("127.0.0.1:%d", front)
}

type inferResponse struct {
	ModelVersion string `json:"model_version"`
}

// prober sends requests through the load balancer one after another and
// records the version of each answer and every failure, beside hey.
type prober struct {
	mu       sync.Mutex
	versions []string // in order
	failures []string
	stop     atomic.Bool
}

func (p *prober) run(lb string, done chan<- struct{}) {
	defer close(done)
	client := &http.Client{Timeout: 10 * time.Second}
	for !p.stop.Load() {
		resp, err := client.Post("http://"+lb+"/v2/models/"+model+"/infer", "application/json", bytes.NewReader(inferBody))
		if err != nil {
			p.fail(err.Error())
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var ir inferResponse
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &ir) != nil {
			p.fail(fmt.Sprintf("%d %s", resp.StatusCode, body))
			continue
		}
		p.mu.Lock()
		p.versions = append(p.versions, ir.ModelVersion)
		p.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
}

func (p *prober) fail(s string) {
	p.mu.Lock()
	p.failures = append(p.failures, s)
	p.mu.Unlock()
}

func (p *prober) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.versions)
}

// heyResult is what hey's summary reports.
type heyResult struct {
	statuses map[int]int
	errors   int
	p50, p99 time.Duration
	total    int
	rps      float64
}

var (
	heyStatus  = regexp.MustCompile(`(?m)^\s+\[(\d{3})\]\s+(\d+) responses`)
	heyError   = regexp.MustCompile(`(?m)^\s+\[(\d+)\]\s+(Post|Get) .*$`)
	heyLatency = regexp.MustCompile(`(?m)^\s+(50|99)% in ([0-9.]+) secs`)
	heyRPS     = regexp.MustCompile(`(?m)^\s+Requests/sec:\s+([0-9.]+)`)
)

func parseHey(t *testing.T, out string) heyResult {
	t.Helper()
	r := heyResult{statuses: map[int]int{}}
	for _, m := range heyStatus.FindAllStringSubmatch(out, -1) {
		code, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[2])
		r.statuses[code] += n
		r.total += n
	}
	for _, m := range heyError.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		r.errors += n
		r.total += n
	}
	for _, m := range heyLatency.FindAllStringSubmatch(out, -1) {
		s, _ := strconv.ParseFloat(m[2], 64)
		d := time.Duration(s * float64(time.Second))
		if m[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if m := heyRPS.FindStringSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	require.Positive(t, r.total, "hey reported no requests:\n%s", out)
	return r
}

func TestScaleOut(t *testing.T) {
	heyBin := tool(t, "hey")
	tool(t, "haproxy")
	reg := ocitest.Start(t)
	proxy, regHost := startProxy(t, reg.Host)

	v1, err := os.ReadFile(filepath.Join(repoRoot(t), "host", "testdata", "echo.wasm"))
	require.NoError(t, err)
	// Version 2.0.0 of the same factory: the metadata's version string is
	// in a data segment, and the new one is as long.
	v2 := bytes.Replace(v1, []byte(`"version":"1.0.0"`), []byte(`"version":"2.0.0"`), 1)
	require.NotEqual(t, v1, v2)
	ref1, blob1 := push(t, v1, "oci://"+regHost+"/factories/echo:1.0.0")
	ref2, blob2 := push(t, v2, "oci://"+regHost+"/factories/echo:2.0.0")
	base1, base2 := proxy.count(blob1), proxy.count(blob2) // what the pushes fetched, if anything

	rs := make([]*replica, replicas)
	ready := map[string][]time.Duration{}
	var ports []int
	for i := range rs {
		rs[i] = &replica{i: i, cacheDir: t.TempDir()}
		ready["first start on 1.0.0"] = append(ready["first start on 1.0.0"], rs[i].start(t, ref1))
		ports = append(ports, rs[i].port)
	}
	lb := startHAProxy(t, ports)
	// Wait until haproxy has seen every replica up.
	require.Eventually(t, func() bool {
		resp, err := http.Post("http://"+lb+"/v2/models/"+model+"/infer", "application/json", bytes.NewReader(inferBody))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond)
	time.Sleep(time.Second) // every server: rise 2 × inter 200ms

	bodyFile := filepath.Join(t.TempDir(), "body.json")
	require.NoError(t, os.WriteFile(bodyFile, inferBody, 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), loadTime+60*time.Second)
	defer cancel()
	hey := exec.CommandContext(ctx, heyBin, "-z", loadTime.String(), "-c", strconv.Itoa(heyWorkers), "-q", strconv.Itoa(heyRate),
		"-m", "POST", "-T", "application/json", "-D", bodyFile, "-t", "20", "http://"+lb+"/v2/models/"+model+"/infer")
	var heyOut bytes.Buffer
	hey.Stdout, hey.Stderr = &heyOut, &heyOut
	require.NoError(t, hey.Start())
	p := &prober{}
	proberDone := make(chan struct{})
	go p.run(lb, proberDone)

	// 1. SIGKILL one replica and start it again, on the same port and
	// store: the store serves its module, the registry is not asked.
	time.Sleep(3 * time.Second)
	killed := rs[1]
	err = killed.stop(t, syscall.SIGKILL)
	require.Error(t, err, "a SIGKILLed replica exits with the signal")
	ready["restart after SIGKILL"] = append(ready["restart after SIGKILL"], killed.start(t, ref1))
	time.Sleep(2 * time.Second)

	// 2. Roll every replica to 2.0.0, one at a time: SIGTERM (not ready,
	// drain, exit 0), then start on the new digest.
	for _, r := range rs {
		require.NoError(t, r.stop(t, syscall.SIGTERM), "a replica exits 0 after SIGTERM\n%s", r.output())
		ready["roll to 2.0.0"] = append(ready["roll to 2.0.0"], r.start(t, ref2))
		time.Sleep(1500 * time.Millisecond) // haproxy: rise 2 × inter 200ms, and some load on it
	}
	rolled := p.mark()

	require.NoError(t, hey.Wait(), "hey: %s", heyOut.String())
	p.stop.Store(true)
	<-proberDone
	res := parseHey(t, heyOut.String())

	failed := res.errors
	for code, n := range res.statuses {
		if code != http.StatusOK {
			failed += n
		}
	}
	t.Logf("scale-out: %d requests through haproxy in %v (%.0f/s), %d failed, p50 %v, p99 %v; statuses %v",
		res.total, loadTime, res.rps, failed, res.p50, res.p99, res.statuses)
	for what, ds := range ready {
		t.Logf("scale-out: ready after %s: %v", what, ds)
	}
	p.mu.Lock()
	versions, failures := slices.Clone(p.versions), slices.Clone(p.failures)
	p.mu.Unlock()
	t.Logf("scale-out: prober: %d answers, %d failed", len(versions), len(failures))

	assert.Zero(t, failed, "requests failed through the load balancer:\n%s", heyOut.String())
	assert.Empty(t, failures, "the prober's requests failed")
	require.Greater(t, len(versions), rolled, "the prober got no answer after the roll")
	for i, v := range versions[rolled:] {
		require.Equalf(t, "2.0.0", v, "answer %d after the roll", rolled+i)
	}
	assert.Contains(t, versions[:rolled], "1.0.0")
	// Each replica fetched each digest's module once: the restart after
	// SIGKILL found it in its store.
	assert.Equal(t, replicas, proxy.count(blob1)-base1, "registry fetches of 1.0.0's module")
	assert.Equal(t, replicas, proxy.count(blob2)-base2, "registry fetches of 2.0.0's module")
}
