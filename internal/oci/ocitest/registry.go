// Package ocitest runs a real OCI registry (Debian's docker-registry,
// distribution 2.8) on 127.0.0.1 for tests. It is for tests only.
package ocitest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Registry is a real registry (Debian's docker-registry, distribution
// 2.8) on 127.0.0.1, started by startRegistry and stopped at the test's end.
type Registry struct {
	Host    string // 127.0.0.1:PORT
	Storage string // its filesystem storage root
	cmd     *exec.Cmd
}

// Start starts docker-registry (installed by `make deps`) on a
// free port with storage in a temporary directory.
func Start(t *testing.T) *Registry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("docker-registry not installed (run `make deps`): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	dir := t.TempDir()
	storage := filepath.Join(dir, "storage")
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  cache:
    blobdescriptor: ""
http:
  addr: %s
`, storage, addr)
	cfgPath := filepath.Join(dir, "config.yml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	cmd := exec.Command(bin, "serve", cfgPath)
	require.NoError(t, cmd.Start())
	r := &Registry{Host: addr, Storage: storage, cmd: cmd}
	t.Cleanup(r.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("docker-registry did not answer on %s", addr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop kills the registry; calling it again does nothing.
func (r *Registry) Stop() {
	if r.cmd.Process != nil && r.cmd.ProcessState == nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}
