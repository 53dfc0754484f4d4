//go:build linux

package main_test

// End-to-end tests of `wasmreg serve`: the binary on loopback ports the
// kernel picks, called with real curl and grpcurl.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/internal/oci/ocitest"
)

// lockedBuffer is a buffer written by a process and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// server is a running `wasmreg serve`.
type server struct {
	cmd    *exec.Cmd
	rest   string // host:port
	grpc   string // host:port, or "off"
	stderr *lockedBuffer
	exited chan int
}

var listeningRE = regexp.MustCompile(`wasmreg: listening rest=(\S+) grpc=(\S+)`)

// startServe starts `wasmreg serve args...` on ports the kernel picks
// (unless args say otherwise) and waits until it listens. The process is
// killed at the end of the test.
func startServe(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	args = append([]string{"serve", "--rest-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"}, args...)
	cmd := exec.Command(binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WASMREG_") && !strings.HasPrefix(kv, "PORT=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, "WASMREG_CACHE_DIR="+cacheDir), env...)
	s := &server{cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan int, 1)}
	cmd.Stdout, cmd.Stderr = io.Discard, s.stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
		}
		if t.Failed() {
			t.Logf("wasmreg %s: standard error:\n%s", strings.Join(args, " "), s.stderr.String())
		}
	})
	go func() {
		_ = cmd.Wait()
		s.exited <- cmd.ProcessState.ExitCode()
	}()
	deadline := time.After(30 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(s.stderr.String()); m != nil {
			s.rest, s.grpc = m[1], m[2]
			return s
		}
		select {
		case status := <-s.exited:
			s.exited <- status
			t.Fatalf("wasmreg serve exited with %d before listening: %s", status, s.stderr.String())
		case <-deadline:
			t.Fatalf("wasmreg serve did not listen within 30 s: %s", s.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitReady waits until the server reports ready.
func (s *server) waitReady(t *testing.T) {
	t.Helper()
	waitFor(t, "the server is ready", func() bool {
		resp, err := http.Get("http://" + s.rest + "/v2/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// stop sends SIGTERM and returns the exit status.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	return s.wait(t)
}

// wait waits for the process to exit, up to 30 s.
func (s *server) wait(t *testing.T) int {
	t.Helper()
	select {
	case status := <-s.exited:
		s.exited <- status
		return status
	case <-time.After(30 * time.Second):
		t.Fatal("wasmreg serve did not exit within 30 s")
		return -1
	}
}

// tool returns the path of a Go tool that make deps installs.
func tool(t *testing.T, name, version string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "build", "tools", name+"-"+version, name))
	require.NoError(t, err)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run make deps (%v)", name, err)
	}
	return p
}

// run runs a client command, bounded in time, and returns its standard
// output and error together, and its exit status.
func run(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	case err != nil:
		t.Fatalf("%s %q: %v", name, args, err)
	}
	return string(out), 0
}

// curl runs curl with args and returns the body and the HTTP status.
func curl(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, status := run(t, "curl", append([]string{"-sS", "--max-time", "20", "-w", "\n%{http_code}"}, args...)...)
	require.Equal(t, 0, status, "curl %q: %s", args, out)
	i := strings.LastIndex(out, "\n")
	var code int
	_, err := fmt.Sscan(out[i+1:], &code)
	require.NoError(t, err, out)
	return out[:i], code
}

func grpcurl(t *testing.T, args ...string) (string, int) {
	t.Helper()
	proto, err := filepath.Abs(filepath.Join("..", "..", "serve", "oippb"))
	require.NoError(t, err)
	return run(t, tool(t, "grpcurl", "v1.9.4"), append([]string{"-max-time", "20", "-import-path", proto, "-proto", "open_inference_grpc.proto"}, args...)...)
}

func factory(name string) string { return filepath.Join("..", "..", "build", "factories", name) }

// infer posts a BYTES or numeric REST request to model and returns the
// status and the decoded answer.
func infer(t *testing.T, addr, model, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/v2/models/"+model+"/infer", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var v map[string]any
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &v), string(b))
	return resp.StatusCode, v
}

const bytesRequest = `{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["x"]}]}`

// firstOutput is the first datum of the first output of an answer.
func firstOutput(v map[string]any) any {
	outs, _ := v["outputs"].([]any)
	if len(outs) == 0 {
		return nil
	}
	data, _ := outs[0].(map[string]any)["data"].([]any)
	if len(data) == 0 {
		return nil
	}
	return data[0]
}

// TestServeRESTAndGRPC serves one factory and calls it with curl and
// grpcurl: health, metadata, inference, an unknown model.
func TestServeRESTAndGRPC(t *testing.T) {
	t.Parallel()
	s := startServe(t, nil, factory("scale.wasm"), "--config", `{"factor":2}`)
	s.waitReady(t)

	body, code := curl(t, "http://"+s.rest+"/v2/health/ready")
	assert.Equal(t, 200, code)
	assert.JSONEq(t, `{"ready":true}`, body)
	body, code = curl(t, "-X", "POST", "-H", "Content-Type: application/json", "--data",
		`{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3,4]}]}`, "http://"+s.rest+"/v2/models/scale/infer")
	assert.Equal(t, 200, code, body)
	assert.JSONEq(t, `{"model_name":"scale","model_version":"1.0.0","outputs":[{"name":"output","shape":[2,2],"datatype":"FP64","data":[2,4,6,8]}]}`, body)
	body, code = curl(t, "http://"+s.rest+"/v2/models/nosuch")
	assert.Equal(t, 404, code, body)

	const svc = "inference.GRPCInferenceService/"
	out, status := grpcurl(t, "-plaintext", s.grpc, svc+"ServerLive")
	require.Equal(t, 0, status, out)
	assert.JSONEq(t, `{"live":true}`, out)
	out, status = grpcurl(t, "-plaintext", s.grpc, svc+"ServerReady")
	require.Equal(t, 0, status, out)
	assert.JSONEq(t, `{"ready":true}`, out)
	out, status = grpcurl(t, "-plaintext", "-d", `{"name":"scale"}`, s.grpc, svc+"ModelMetadata")
	require.Equal(t, 0, status, out)
	var md struct {
		Name     string   `json:"name"`
		Versions []string `json:"versions"`
		Platform string   `json:"platform"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &md), out)
	assert.Equal(t, "scale", md.Name)
	assert.Equal(t, []string{"1.0.0"}, md.Versions)
	assert.Equal(t, "wasmreg", md.Platform)
	out, status = grpcurl(t, "-plaintext", "-d",
		`{"model_name":"scale","inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"contents":{"fp32_contents":[1,2.5,-3]}}]}`, s.grpc, svc+"ModelInfer")
	require.Equal(t, 0, status, out)
	var ir struct {
		ModelName string `json:"modelName"`
		Outputs   []struct {
			Datatype string `json:"datatype"`
			Shape    []string
			Contents struct {
				Fp64 []float64 `json:"fp64Contents"`
			} `json:"contents"`
		} `json:"outputs"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &ir), out)
	assert.Equal(t, "scale", ir.ModelName)
	require.Len(t, ir.Outputs, 1, out)
	assert.Equal(t, []float64{2, 5, -6}, ir.Outputs[0].Contents.Fp64)
	out, status = grpcurl(t, "-plaintext", "-d",
		`{"model_name":"nosuch","inputs":[{"name":"x","datatype":"FP32","shape":[1],"contents":{"fp32_contents":[1]}}]}`, s.grpc, svc+"ModelInfer")
	assert.NotEqual(t, 0, status)
	assert.Contains(t, out, "Code: NotFound")
	out, status = run(t, tool(t, "grpcurl", "v1.9.4"), "-max-time", "20", "-plaintext", s.grpc, "list") // by reflection
	require.Equal(t, 0, status, out)
	assert.Contains(t, out, "grpc.health.v1.Health")
	assert.Contains(t, out, "inference.GRPCInferenceService")

	assert.Equal(t, 0, s.stop(t))
	assert.Contains(t, s.stderr.String(), "wasmreg: shut down")
}

// writeFile writes a test file with mode 0600.
func writeFile(t *testing.T, path, contents string) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(contents), 0o600))
	return path
}

// TestServeModelsFile serves two models of a YAML file, one with a fresh
// sandbox per request, and the same in JSON.
func TestServeModelsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	scale, echo := factory("scale.wasm"), hostFixture("echo.wasm")
	files := map[string]string{
		"models.yaml": fmt.Sprintf(`
models:
  - name: double
    factory: %s
    config: {factor: 2}
    instances: 2
  - name: fresh
    factory: %s
    config: '"hello"'
    isolation: request
`, scale, echo),
		"models.json": fmt.Sprintf(`{"models":[{"name":"double","factory":%q,"config":{"factor":2},"instances":2},
			{"name":"fresh","factory":%q,"config":"\"hello\"","isolation":"request"}]}`, scale, echo),
	}
	for name, contents := range files {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := startServe(t, nil, "--models", writeFile(t, filepath.Join(dir, name), contents), "--grpc-addr", "off")
			assert.Equal(t, "off", s.grpc)
			s.waitReady(t)
			status, v := infer(t, s.rest, "double", `{"inputs":[{"name":"x","shape":[3],"datatype":"INT32","data":[1,2,3]}]}`)
			require.Equal(t, 200, status, v)
			outs := v["outputs"].([]any)
			assert.Equal(t, []any{2.0, 4.0, 6.0}, outs[0].(map[string]any)["data"])
			for range 3 {
				status, v = infer(t, s.rest, "fresh", bytesRequest)
				require.Equal(t, 200, status, v)
				assert.Equal(t, `"hello"`, firstOutput(v))
			}
			assert.Equal(t, 0, s.stop(t))
		})
	}
}

// TestServeErrors: each mistake is one line naming the thing, with the
// status of the CLI's other usage and runtime errors.
func TestServeErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	echo := hostFixture("echo.wasm")
	models := func(s string) string {
		return writeFile(t, filepath.Join(dir, fmt.Sprintf("m%d.yaml", time.Now().UnixNano())), s)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { busy.Close() })
	token := writeFile(t, filepath.Join(dir, "short-token"), "short\n")
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		want   string
	}{
		{"config for the demo", []string{"serve", "--config", "{}"}, 2, "--config is for a FACTORY argument; the built-in demo (no FACTORY) takes none"},
		{"both", []string{"serve", echo, "--models", "x.yaml"}, 2, "a FACTORY argument or --models, not both"},
		{"flag of FACTORY with --models", []string{"serve", "--models", "x.yaml", "--instances", "2"}, 2, "--instances is for a FACTORY argument"},
		{"unknown field", []string{"serve", "--models", models("models:\n  - name: a\n    factory: " + echo + "\n    instancez: 2\n")}, 1, `unknown field "instancez"`},
		{"unknown top-level field", []string{"serve", "--models", models("model: []\n")}, 1, `unknown field "model"`},
		{"duplicate name", []string{"serve", "--models", models("models:\n  - {name: a, factory: " + echo + "}\n  - {name: a, factory: " + echo + "}\n")}, 1, `a second model named "a"`},
		{"bad isolation", []string{"serve", "--models", models("models:\n  - {name: a, factory: " + echo + ", isolation: process}\n")}, 1, `model "a": isolation "process"`},
		{"bad grant", []string{"serve", "--models", models("models:\n  - {name: a, factory: " + echo + ", grants: [network]}\n")}, 1, `model "a": --grant network: unknown capability`},
		{"config string not JSON", []string{"serve", "--models", models("models:\n  - {name: a, factory: " + echo + ", config: 'not json'}\n")}, 1, `model "a": config: the string "not json" is not JSON text`},
		{"no models file", []string{"serve", "--models", filepath.Join(dir, "nosuch.yaml")}, 1, "nosuch.yaml: open"},
		{"not YAML", []string{"serve", "--models", models("models: [\n")}, 1, "yaml: line"},
		{"unknown factory", []string{"serve", "nosuch", "--dir", dir}, 1, `model "nosuch": factory "nosuch" not found in ` + dir},
		{"bad config", []string{"serve", echo, "--config", "{"}, 2, "--config is not valid JSON"},
		{"config the factory refuses", []string{"serve", echo, "--config", `"` + strings.Repeat("a", 17000) + `"`}, 1, `model "echo": serve: load model "echo"`},
		{"port in use", []string{"serve", echo, "--rest-addr", busy.Addr().String()}, 1, "--rest-addr " + busy.Addr().String() + ": listen tcp " + busy.Addr().String() + ": bind: address already in use"},
		{"bad address", []string{"serve", echo, "--grpc-addr", "nowhere"}, 2, `--grpc-addr "nowhere"`},
		{"bad $PORT", []string{"serve", echo, "--env-PORT=http"}, 2, `$PORT "http" is not a port number`},
		{"TLS half", []string{"serve", echo, "--tls-cert", "c.pem"}, 2, "--tls-cert and --tls-key go together"},
		{"short token", []string{"serve", echo, "--repository-token-file", token}, 2, "the token is 5 bytes, want at least 16"},
		{"empty token", []string{"serve", echo, "--repository-token-env", "WASMREG_TEST_NO_SUCH_TOKEN"}, 2, "--repository-token-env WASMREG_TEST_NO_SUCH_TOKEN: the token is empty"},
		{"bad body limit", []string{"serve", echo, "--body-limit", "lots"}, 2, `--body-limit "lots"`},
		{"bad concurrency", []string{"serve", echo, "--concurrency", "0"}, 2, "--concurrency 0: want at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Ports the kernel picks, unless the case is about them.
			args, env := []string{"serve"}, []string(nil)
			joined := strings.Join(tc.args, " ")
			if !strings.Contains(joined, "--rest-addr") {
				args = append(args, "--rest-addr", "127.0.0.1:0")
			}
			if !strings.Contains(joined, "--grpc-addr") {
				args = append(args, "--grpc-addr", "127.0.0.1:0")
			}
			for _, a := range tc.args[1:] {
				if v, ok := strings.CutPrefix(a, "--env-"); ok {
					env = append(env, v)
				} else {
					args = append(args, a)
				}
			}
			r := wasmregEnv(t, env, args...)
			assert.Equal(t, tc.status, r.status, "stderr: %s", r.stderr)
			// The error is the last line, after the listening line when
			// it came from loading a model.
			lines := r.stderrLines()
			if assert.NotEmpty(t, lines) {
				assert.Contains(t, lines[len(lines)-1], tc.want)
				assert.True(t, strings.HasPrefix(lines[len(lines)-1], "wasmreg: "), lines[len(lines)-1])
			}
			assert.LessOrEqual(t, len(lines), 2, r.stderr)
			assert.NotContains(t, r.stderr, "panic")
		})
	}
}

// wasmregEnv is wasmreg with extra environment variables.
func wasmregEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	if len(env) == 0 {
		return wasmreg(t, "", args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WASMREG_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, "WASMREG_CACHE_DIR="+cacheDir), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		r.status = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestServePort: $PORT replaces the port of --rest-addr, as Knative sets it.
func TestServePort(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	require.NoError(t, l.Close())
	s := startServe(t, []string{"PORT=" + port}, hostFixture("echo.wasm"), "--config", `"hi"`)
	assert.Equal(t, "127.0.0.1:"+port, s.rest)
	s.waitReady(t)
	assert.Equal(t, 0, s.stop(t))
}

// requestLoad sends requests to model from n goroutines until stop is
// closed, and returns what each got: the first output, or the error.
type requestLoad struct {
	mu      sync.Mutex
	answers map[string]int
	fails   []string
	wg      sync.WaitGroup
	stop    chan struct{}
}

func startLoad(t *testing.T, addr, model string, n int) *requestLoad {
	l := &requestLoad{answers: map[string]int{}, stop: make(chan struct{})}
	client := &http.Client{Timeout: 30 * time.Second}
	for range n {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := client.Post("http://"+addr+"/v2/models/"+model+"/infer", "application/json", strings.NewReader(bytesRequest))
				l.mu.Lock()
				if err != nil {
					l.fails = append(l.fails, err.Error())
				} else {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					var v map[string]any
					if resp.StatusCode != 200 || json.Unmarshal(b, &v) != nil {
						l.fails = append(l.fails, fmt.Sprintf("%d %s", resp.StatusCode, b))
					} else {
						l.answers[fmt.Sprint(firstOutput(v))]++
					}
				}
				l.mu.Unlock()
			}
		})
	}
	t.Cleanup(l.end)
	return l
}

func (l *requestLoad) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

func (l *requestLoad) count(answer string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.answers[answer]
}

// TestServeReload replaces a model under load, by SIGHUP and by a change
// of the models file: requests in flight finish, new ones see the new
// model, nothing fails; a broken reload keeps the old model serving.
func TestServeReload(t *testing.T) {
	t.Parallel()
	slow := filepath.Join("testdata", "slowecho.wasm")
	entry := func(config string) string {
		return fmt.Sprintf("models:\n  - {name: m, factory: %s, config: '%s', instances: 2}\n", slow, config)
	}
	for _, by := range []string{"SIGHUP", "watch"} {
		t.Run(by, func(t *testing.T) {
			t.Parallel()
			models := writeFile(t, filepath.Join(t.TempDir(), "models.yaml"), entry(`"v1"`))
			args := []string{"--models", models, "--grpc-addr", "off", "--log-level", "info"}
			if by == "SIGHUP" {
				args = append(args, "--watch=false")
			}
			s := startServe(t, nil, args...)
			s.waitReady(t)
			load := startLoad(t, s.rest, "m", 4)
			waitFor(t, "answers from v1", func() bool { return load.count(`"v1"`) >= 4 })

			reload := func(contents string) {
				writeFile(t, models, contents)
				if by == "SIGHUP" {
					require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
				}
			}
			reload(entry(`"v2"`))
			waitFor(t, "answers from v2", func() bool { return load.count(`"v2"`) >= 4 })

			// A config the factory refuses (echo takes at most 16 KiB).
			reload(entry(`"` + strings.Repeat("x", 17000) + `"`))
			waitFor(t, "the failed reload is logged", func() bool {
				return strings.Contains(s.stderr.String(), "reload failed; the old model keeps serving")
			})
			before := load.count(`"v2"`)
			waitFor(t, "more answers from v2", func() bool { return load.count(`"v2"`) >= before+4 })
			load.end()
			assert.Empty(t, load.fails, "no request failed")
			assert.Regexp(t, `reload failed; the old model keeps serving" model=m error=".*returned code 1`, s.stderr.String())
			assert.Equal(t, 0, s.stop(t))
		})
	}
}

// TestServeReloadAddsAndRemoves: a model added to the file is loaded, one
// removed is unloaded.
func TestServeReloadAddsAndRemoves(t *testing.T) {
	t.Parallel()
	echo := hostFixture("echo.wasm")
	models := writeFile(t, filepath.Join(t.TempDir(), "models.json"),
		fmt.Sprintf(`{"models":[{"name":"a","factory":%q,"config":"\"a\""}]}`, echo))
	s := startServe(t, nil, "--models", models, "--grpc-addr", "off", "--watch=false", "--log-level", "debug")
	s.waitReady(t)
	writeFile(t, models, fmt.Sprintf(`{"models":[{"name":"b","factory":%q,"config":"\"b\""}]}`, echo))
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, "model a is gone and b served", func() bool {
		sa, _ := infer(t, s.rest, "a", bytesRequest)
		sb, _ := infer(t, s.rest, "b", bytesRequest)
		return sa == 404 && sb == 200
	})
	waitFor(t, "a's factory is closed", func() bool {
		return strings.Contains(s.stderr.String(), `msg="closed a model's factory" model=a factory=echo@1.0.0`)
	})
	assert.NotContains(t, s.stderr.String(), `msg="closed a model's factory" model=b`)

	// A models file that does not parse changes nothing.
	writeFile(t, models, `{"models":[{"name":"b","factory":"x.wasm","instancez":1}]}`)
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, "the failed reload is logged", func() bool {
		return strings.Contains(s.stderr.String(), `reload failed; every model keeps serving`)
	})
	assert.Contains(t, s.stderr.String(), `unknown field \"instancez\"`)
	status, v := infer(t, s.rest, "b", bytesRequest)
	assert.Equal(t, 200, status)
	assert.Equal(t, `"b"`, firstOutput(v))
	assert.Equal(t, 0, s.stop(t))
	assert.Contains(t, s.stderr.String(), `msg="closed a model's factory" model=b factory=echo@1.0.0`, "closed at shutdown")
}

// TestServeTerminateDrains: a terminate signal while requests run makes
// the server not ready at once; every request sent before it succeeds;
// the exit status is 0.
func TestServeTerminateDrains(t *testing.T) {
	t.Parallel()
	for _, delay := range []string{"0s", "1s"} {
		t.Run("drain-delay "+delay, func(t *testing.T) {
			t.Parallel()
			terminateDrains(t, delay)
		})
	}
}

// terminateDrains is TestServeTerminateDrains with --drain-delay delay:
// without a delay, the listener closes at once, so readiness cannot be
// seen false from a new connection.
func terminateDrains(t *testing.T, delay string) {
	s := startServe(t, nil, filepath.Join("testdata", "slowecho.wasm"), "--config", `"ok"`, "--instances", "2", "--drain-delay", delay)
	s.waitReady(t)
	client := &http.Client{Timeout: 30 * time.Second}
	const n = 8
	statuses := make(chan string, n)
	for range n {
		go func() {
			resp, err := client.Post("http://"+s.rest+"/v2/models/slowecho/infer", "application/json", strings.NewReader(bytesRequest))
			if err != nil {
				statuses <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			statuses <- fmt.Sprintf("%d %s", resp.StatusCode, b)
		}()
	}
	time.Sleep(200 * time.Millisecond) // the requests are on their way: 8 of ~200 ms on 2 instances
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	if delay != "0s" {
		status, body := 0, ""
		waitFor(t, "readiness is false", func() bool {
			resp, err := client.Get("http://" + s.rest + "/readyz")
			if err != nil {
				return false
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			status, body = resp.StatusCode, string(b)
			return status == http.StatusServiceUnavailable
		})
		assert.JSONEq(t, `{"ready":false}`, body)
		// Still accepting, and serving, during the delay.
		code, v := infer(t, s.rest, "slowecho", bytesRequest)
		assert.Equal(t, 200, code, v)
	}
	for range n {
		select {
		case got := <-statuses:
			assert.True(t, strings.HasPrefix(got, "200 "), got)
		case <-time.After(30 * time.Second):
			t.Fatal("a request did not finish")
		}
	}
	assert.Equal(t, 0, s.wait(t))
	assert.Contains(t, s.stderr.String(), "wasmreg: shut down")
}

// TestServeRepository: the repository extension needs the token, and
// loads and unloads models by name from --dir.
func TestServeRepository(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	wasm, err := os.ReadFile(hostFixture("echo.wasm"))
	require.NoError(t, err)
	writeFile(t, filepath.Join(dir, "echo.wasm"), string(wasm))
	const tok = "s3cret-token-0123456789"
	tokenFile := writeFile(t, filepath.Join(dir, "token"), tok+"\n")
	s := startServe(t, nil, hostFixture("echo.wasm"), "--name", "first", "--config", `"first"`,
		"--dir", dir, "--allow-unlocked", "--repository-token-file", tokenFile)
	s.waitReady(t)
	base := "http://" + s.rest + "/v2/repository"

	body, code := curl(t, "-X", "POST", base+"/index")
	assert.Equal(t, 401, code, body)
	body, code = curl(t, "-X", "POST", "-H", "Authorization: Bearer wrong-token-0123456789", base+"/models/echo/load")
	assert.Equal(t, 401, code, body)
	waitFor(t, "the refusal is logged", func() bool {
		return strings.Contains(s.stderr.String(), "repository call without a valid token")
	})

	auth := "Authorization: Bearer " + tok
	body, code = curl(t, "-X", "POST", "-H", auth, "--data", `{"parameters":{"config":"\"loaded\""}}`, base+"/models/echo/load")
	assert.Equal(t, 200, code, body)
	status, v := infer(t, s.rest, "echo", bytesRequest)
	require.Equal(t, 200, status, v)
	assert.Equal(t, `"loaded"`, firstOutput(v))
	body, code = curl(t, "-X", "POST", "-H", auth, base+"/index")
	assert.Equal(t, 200, code, body)
	assert.Contains(t, body, `"name":"echo"`)
	assert.Contains(t, body, `"name":"first"`)
	body, code = curl(t, "-X", "POST", "-H", auth, base+"/models/..%2Fetc/load")
	assert.NotEqual(t, 200, code, body)
	body, code = curl(t, "-X", "POST", "-H", auth, base+"/models/echo/unload")
	assert.Equal(t, 200, code, body)
	status, _ = infer(t, s.rest, "echo", bytesRequest)
	assert.Equal(t, 404, status)
	assert.Equal(t, 0, s.stop(t))
}

// TestServeTokenFileMode: a token file others may read is served with a
// warning.
func TestServeTokenFileMode(t *testing.T) {
	t.Parallel()
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("s3cret-token-0123456789"), 0o644))
	require.NoError(t, os.Chmod(tokenFile, 0o644))
	s := startServe(t, nil, hostFixture("echo.wasm"), "--repository-token-file", tokenFile, "--grpc-addr", "off")
	s.waitReady(t)
	assert.Contains(t, s.stderr.String(), "is readable or writable by group or others (mode -rw-r--r--); chmod 600 it")
	assert.Equal(t, 0, s.stop(t))
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wasmreg test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(k)
	require.NoError(t, err)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, key, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	return cert, key
}

// TestServeTLS serves both protocols over TLS: curl and grpcurl trust the
// test's certificate.
func TestServeTLS(t *testing.T) {
	t.Parallel()
	cert, key := selfSigned(t, t.TempDir())
	s := startServe(t, nil, factory("scale.wasm"), "--config", `{"factor":3}`, "--tls-cert", cert, "--tls-key", key)
	assert.Contains(t, s.stderr.String(), "tls=true")
	waitFor(t, "the server is ready", func() bool {
		_, code := curl(t, "--cacert", cert, "https://"+s.rest+"/v2/health/ready")
		return code == 200
	})
	body, code := curl(t, "--cacert", cert, "-X", "POST", "--data",
		`{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[2]}]}`, "https://"+s.rest+"/v2/models/scale/infer")
	assert.Equal(t, 200, code, body)
	assert.Contains(t, body, `"data":[6]`)
	body, code = curl(t, "http://"+s.rest+"/v2/health/ready")
	assert.Equal(t, 400, code, "plain HTTP to the TLS port: %s", body)
	out, status := grpcurl(t, "-cacert", cert, s.grpc, "inference.GRPCInferenceService/ServerReady")
	require.Equal(t, 0, status, out)
	assert.JSONEq(t, `{"ready":true}`, out)
	out, status = grpcurl(t, "-plaintext", s.grpc, "inference.GRPCInferenceService/ServerReady")
	assert.NotEqual(t, 0, status, "plaintext gRPC to the TLS port: %s", out)
	assert.Equal(t, 0, s.stop(t))
}

// TestServeWatchesConfigFile: FACTORY's --config @FILE is watched too.
func TestServeWatchesConfigFile(t *testing.T) {
	t.Parallel()
	config := writeFile(t, filepath.Join(t.TempDir(), "config.json"), `"one"`)
	s := startServe(t, nil, hostFixture("echo.wasm"), "--config", "@"+config, "--grpc-addr", "off")
	s.waitReady(t)
	_, v := infer(t, s.rest, "echo", bytesRequest)
	assert.Equal(t, `"one"`, firstOutput(v))
	writeFile(t, config, `"two"`)
	waitFor(t, "the new config is served", func() bool {
		_, v := infer(t, s.rest, "echo", bytesRequest)
		return firstOutput(v) == `"two"`
	})
	assert.Equal(t, 0, s.stop(t))
}

// TestServeNotReadyUntilLoaded: while a model is still compiling (a Go
// factory, without the compilation cache), the server is live but not
// ready, and then ready.
func TestServeNotReadyUntilLoaded(t *testing.T) {
	t.Parallel()
	s := startServe(t, nil, "--no-cache", factory("linear.wasm"), "--config", "@"+filepath.Join("..", "..", "examples", "factories", "linear", "testdata", "iris_softmax.json"))
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + s.rest + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	require.NotContains(t, s.stderr.String(), "wasmreg: ready", "the model loaded before the test could look: the test shows nothing")
	status, body := get("/v2/health/ready")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.JSONEq(t, `{"ready":false}`, body)
	status, _ = get("/v2/health/live")
	assert.Equal(t, http.StatusOK, status)
	out, code := grpcurl(t, "-plaintext", s.grpc, "inference.GRPCInferenceService/ServerReady")
	if !strings.Contains(s.stderr.String(), "wasmreg: ready") { // still loading
		assert.Equal(t, 0, code, out)
		assert.JSONEq(t, `{}`, out, "ready false is the default, which grpcurl leaves out")
	}
	s.waitReady(t)
	status, body = get("/v2/health/ready")
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"ready":true}`, body)
	assert.Equal(t, 0, s.stop(t))
}

// TestServeOCI serves a factory from a real OCI registry, by tag in a
// models file and by digest as FACTORY.
func TestServeOCI(t *testing.T) {
	t.Parallel()
	reg := ocitest.Start(t)
	tag := "oci://" + reg.Host + "/factories/echo:v1"
	r := wasmreg(t, "", "push", hostFixture("echo.wasm"), tag)
	require.Equal(t, 0, r.status, r.stderr)
	pinned := strings.TrimSpace(r.stdout)
	require.True(t, strings.HasPrefix(pinned, tag+"@sha256:"), pinned)
	byDigest := "oci://" + reg.Host + "/factories/echo@" + strings.SplitN(pinned, "@", 2)[1]

	models := writeFile(t, filepath.Join(t.TempDir(), "models.yaml"),
		fmt.Sprintf("models:\n  - {name: tagged, factory: %q, config: '\"t\"'}\n", tag))
	s := startServe(t, nil, "--models", models, "--grpc-addr", "off")
	s.waitReady(t)
	status, v := infer(t, s.rest, "tagged", bytesRequest)
	require.Equal(t, 200, status, v)
	assert.Equal(t, `"t"`, firstOutput(v))
	assert.Contains(t, s.stderr.String(), "resolved "+tag+" to sha256:")
	assert.Equal(t, 0, s.stop(t))

	s = startServe(t, nil, byDigest, "--config", `"d"`, "--grpc-addr", "off")
	s.waitReady(t)
	status, v = infer(t, s.rest, "echo", bytesRequest)
	require.Equal(t, 200, status, v)
	assert.Equal(t, `"d"`, firstOutput(v))
	assert.Equal(t, 0, s.stop(t))
}

// TestServeLockedDirRefusesChange: a factory of a locked --dir whose file
// changes is refused at the reload, and the old model keeps serving.
func TestServeLockedDirRefusesChange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	wasm, err := os.ReadFile(hostFixture("echo.wasm"))
	require.NoError(t, err)
	module := writeFile(t, filepath.Join(dir, "echo.wasm"), string(wasm))
	r := wasmreg(t, "", "lock", "--dir", dir)
	require.Equal(t, 0, r.status, r.stderr)
	s := startServe(t, nil, "echo", "--dir", dir, "--config", `"old"`, "--grpc-addr", "off")
	s.waitReady(t)
	// The same module with a custom section more: valid, another sha256.
	writeFile(t, module, string(wasm)+"\x00\x02\x01x")
	waitFor(t, "the refused reload is logged", func() bool {
		return strings.Contains(s.stderr.String(), "reload failed; the old model keeps serving")
	})
	assert.Contains(t, s.stderr.String(), "wasmreg.lock")
	status, v := infer(t, s.rest, "echo", bytesRequest)
	assert.Equal(t, 200, status)
	assert.Equal(t, `"old"`, firstOutput(v))
	assert.Equal(t, 0, s.stop(t))
}
