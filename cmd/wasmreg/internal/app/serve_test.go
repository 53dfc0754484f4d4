//go:build linux

package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is standard error written by the command and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestServeInProcess runs `wasmreg serve` in the test's process, under the
// race detector: requests from many goroutines while the models file is
// reloaded by SIGHUP again and again and the repository extension loads
// and unloads a model, then SIGTERM. No request fails and the command
// exits 0. (Not parallel: it signals its own process.)
func TestServeInProcess(t *testing.T) {
	dir := t.TempDir()
	wasm, err := os.ReadFile(fixture("echo.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "echo.wasm"), wasm, 0o600))
	models := filepath.Join(dir, "models.yaml")
	write := func(version int) {
		require.NoError(t, os.WriteFile(models, fmt.Appendf(nil,
			"models:\n  - {name: a, factory: %s, config: '\"v%d\"', instances: 2}\n  - {name: b, factory: %s, isolation: request}\n",
			fixture("echo.wasm"), version, fixture("echo.wasm")), 0o600))
	}
	write(1)
	const token = "in-process-token-0123456789"
	t.Setenv("WASMREG_TEST_SERVE_TOKEN", token)

	stderr := &syncBuffer{}
	exited := make(chan int, 1)
	go func() {
		exited <- Main([]string{"wasmreg", "--no-cache", "--dir", dir, "--allow-unlocked", "serve",
			"--rest-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--models", models, "--watch=false",
			"--repository-token-env", "WASMREG_TEST_SERVE_TOKEN"}, strings.NewReader(""), io.Discard, stderr)
	}()
	var rest string
	re := regexp.MustCompile(`listening rest=(\S+)`)
	waitUntil(t, "the server listens", func() bool {
		m := re.FindStringSubmatch(stderr.String())
		if m != nil {
			rest = m[1]
		}
		return m != nil
	})
	client := &http.Client{Timeout: 20 * time.Second}
	get := func(model string) (int, string) {
		resp, err := client.Post("http://"+rest+"/v2/models/"+model+"/infer", "application/json",
			strings.NewReader(`{"inputs":[{"name":"x","shape":[2],"datatype":"BYTES","data":["p","q"]}]}`))
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		var v struct {
			Outputs []struct {
				Data []string `json:"data"`
			} `json:"outputs"`
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || json.Unmarshal(b, &v) != nil || len(v.Outputs) != 1 || len(v.Outputs[0].Data) != 2 {
			return resp.StatusCode, string(b)
		}
		return 200, v.Outputs[0].Data[0]
	}
	waitUntil(t, "ready", func() bool {
		resp, err := client.Get("http://" + rest + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	var mu sync.Mutex
	var fails []string
	latest := map[string]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			model := []string{"a", "b"}[i%2]
			for {
				select {
				case <-stop:
					return
				default:
				}
				status, answer := get(model)
				mu.Lock()
				if status != 200 {
					fails = append(fails, fmt.Sprintf("%s: %d %s", model, status, answer))
				} else if model == "a" {
					latest[answer] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Go(func() { // the repository extension, concurrently
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, op := range []string{"load", "unload"} {
				req, _ := http.NewRequest(http.MethodPost, "http://"+rest+"/v2/repository/models/echo/"+op, strings.NewReader(`{"parameters":{"config":"\"r\""}}`))
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				mu.Lock()
				if err != nil {
					fails = append(fails, "repository "+op+": "+err.Error())
				} else {
					if resp.StatusCode != 200 {
						fails = append(fails, fmt.Sprintf("repository %s: %d", op, resp.StatusCode))
					}
					resp.Body.Close()
				}
				mu.Unlock()
			}
		}
	})
	for v := 2; v <= 5; v++ {
		write(v)
		require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
		want := fmt.Sprintf(`"v%d"`, v)
		waitUntil(t, "answers "+want, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return latest[want]
		})
	}
	close(stop)
	wg.Wait()
	assert.Empty(t, fails)

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case status := <-exited:
		assert.Equal(t, ExitOK, status, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return after SIGTERM")
	}
	assert.Contains(t, stderr.String(), "wasmreg: shut down")
}

// waitUntil polls cond until it holds, failing after 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}
