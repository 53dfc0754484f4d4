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
func Start(t *testing.T) *Registry { return start(t, "") }

// User and Password are the credentials StartWithAuth's registry accepts.
const (
	User     = "wasmreg"
	Password = "s3cret-pw"
	// passwordHash is Password's bcrypt hash, from
	// python3 -c "import crypt; print(crypt.crypt('s3cret-pw', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))"
	passwordHash = "$2b$04$qk0aULJc8Bm9eheekHmj9eqKkl0M87dLucHswSi.uPH0t4p2WOQc2"
)

// StartWithAuth is Start with htpasswd basic auth: only User with
// Password gets in, and everyone else gets 401.
func StartWithAuth(t *testing.T) *Registry { return start(t, User+":"+passwordHash+"\n") }

func start(t *testing.T, htpasswd string) *Registry {
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
	if htpasswd != "" {
		pw := filepath.Join(dir, "htpasswd")
		require.NoError(t, os.WriteFile(pw, []byte(htpasswd), 0o600))
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: test\n    path: %s\n", pw)
	}
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
			if resp.StatusCode == http.StatusOK || htpasswd != "" && resp.StatusCode == http.StatusUnauthorized {
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
