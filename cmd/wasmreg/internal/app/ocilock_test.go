package app

import (
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/internal/oci/ocitest"
)

func readLockText(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, LockFile))
	require.NoError(t, err)
	return string(b)
}

// lockedDir returns a directory holding echo.wasm, locked by 'wasmreg lock'.
func lockedDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(fixture("echo.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "echo.wasm"), b, 0o644))
	_, stderr, status := runMain(t, "", "--dir", dir, "lock")
	require.Equal(t, ExitOK, status, stderr)
	return dir
}

// TestOCILockPinsReference checks that 'wasmreg lock REF' writes the
// line that a locked run consumes, that a moved tag is then refused naming
// both sha256s, and that locking again follows the tag.
func TestOCILockPinsReference(t *testing.T) {
	reg := ocitest.Start(t)
	tag := "oci://" + reg.Host + "/f/l:v1"
	byDigest := pushed(t, "echo.wasm", tag)
	echoSHA, guestSHA := moduleSHA(t, "echo.wasm"), moduleSHA(t, "guest.wasm")
	dir := lockedDir(t)
	cache := t.TempDir()

	stdout, stderr, status := runMain(t, "", "--cache-dir", cache, "--dir", dir, "lock", tag)
	require.Equal(t, ExitOK, status, stderr)
	assert.Contains(t, stdout, "locked 1 reference in "+filepath.Join(dir, LockFile))
	assert.Contains(t, stderr, "pinned "+tag+" to sha256 "+echoSHA+" (manifest "+strings.SplitN(byDigest, "@", 2)[1]+")")
	text := readLockText(t, dir)
	assert.Contains(t, text, "\n"+echoSHA+"  "+tag+"\n", "the tag, without its digest, pinned to the module's sha256")
	assert.Contains(t, text, "\n"+echoSHA+"  echo.wasm\n", "the directory's own pins stay")

	want, _, _ := runMain(t, "hi\n", "run", fixture("echo.wasm"))
	for _, ref := range []string{tag, byDigest} { // a tag with a digest is pinned as the tag
		stdout, stderr, status = runMain(t, "hi\n", "--cache-dir", t.TempDir(), "--dir", dir, "run", ref)
		require.Equal(t, ExitOK, status, stderr)
		assert.Equal(t, want, stdout)
	}

	pushed(t, "guest.wasm", tag) // the tag moves
	for _, args := range [][]string{{"run", tag}, {"inspect", tag}, {"validate", tag}} {
		t.Run("moved tag refused by "+args[0], func(t *testing.T) {
			stdout, stderr, status := runMain(t, "hi\n", append([]string{"--cache-dir", t.TempDir(), "--dir", dir}, args...)...)
			stderr += stdout // validate reports problems on standard output
			assert.NotEqual(t, ExitOK, status)
			assert.Contains(t, stderr, tag+" changed")
			assert.Contains(t, stderr, echoSHA)
			assert.Contains(t, stderr, guestSHA)
		})
	}

	_, stderr, status = runMain(t, "", "--cache-dir", cache, "--dir", dir, "lock", tag)
	require.Equal(t, ExitOK, status, stderr)
	assert.Contains(t, stderr, "re-pinned "+tag+" from sha256 "+echoSHA+" to "+guestSHA)
	text = readLockText(t, dir)
	assert.Contains(t, text, "\n"+guestSHA+"  "+tag+"\n")
	assert.NotContains(t, text, echoSHA+"  "+tag)
	_, stderr, status = runMain(t, "", "--cache-dir", t.TempDir(), "--dir", dir, "inspect", tag)
	assert.Equal(t, ExitOK, status, "locked again, the moved tag is what is pinned: %s", stderr)

	// 'wasmreg lock' of the directory keeps the reference's pin.
	_, stderr, status = runMain(t, "", "--dir", dir, "lock")
	require.Equal(t, ExitOK, status, stderr)
	assert.Equal(t, text, readLockText(t, dir))

	t.Run("by digest", func(t *testing.T) {
		dir := lockedDir(t)
		_, stderr, status := runMain(t, "", "--cache-dir", t.TempDir(), "--dir", dir, "lock", strings.Replace(byDigest, ":v1@", "@", 1))
		require.Equal(t, ExitOK, status, stderr)
		digestOnly := strings.Replace(byDigest, ":v1@", "@", 1)
		assert.Contains(t, readLockText(t, dir), "\n"+echoSHA+"  "+digestOnly+"\n", "a reference by digest is pinned as it is")
		stdout, stderr, status := runMain(t, "hi\n", "--cache-dir", t.TempDir(), "--dir", dir, "run", digestOnly)
		require.Equal(t, ExitOK, status, stderr)
		assert.Equal(t, want, stdout)
		_, stderr, _ = runMain(t, "hi\n", "--cache-dir", t.TempDir(), "--dir", dir, "run", tag)
		assert.Contains(t, stderr, tag+" is not in", "the digest's pin is not the tag's")
	})

	t.Run("a new lock warns of the directory's modules", func(t *testing.T) {
		dir := t.TempDir()
		b, err := os.ReadFile(fixture("echo.wasm"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "echo.wasm"), b, 0o644))
		_, stderr, status := runMain(t, "", "--cache-dir", t.TempDir(), "--dir", dir, "lock", tag)
		require.Equal(t, ExitOK, status, stderr)
		assert.Contains(t, stderr, "wasmreg.lock is new and lists none of the 1 module file of "+dir)
		_, stderr, status = runMain(t, "", "--dir", dir, "inspect", filepath.Join(dir, "echo.wasm"))
		assert.Equal(t, ExitFailure, status)
		assert.Contains(t, stderr, "echo.wasm is not in wasmreg.lock")
	})

	t.Run("refused references leave the lock as it was", func(t *testing.T) {
		before := readLockText(t, dir)
		for _, tc := range []struct {
			args   []string
			status int
			want   string
		}{
			{[]string{"oci://" + reg.Host + "/f/none:v1"}, ExitFailure, "not found (404)"},
			{[]string{tag, "oci://" + reg.Host + "/f/none:v1"}, ExitFailure, "not locking oci://" + reg.Host + "/f/none:v1"},
			{[]string{"echo.wasm"}, ExitUsage, "lock takes oci:// references"},
			{[]string{"oci://" + reg.Host + "/F:v1"}, ExitUsage, "bad reference"},
		} {
			_, stderr, status := runMain(t, "", "--cache-dir", t.TempDir(), "--dir", dir, "lock", tc.args[0], tc.args[len(tc.args)-1])
			assert.Equal(t, tc.status, status, stderr)
			assert.Contains(t, stderr, tc.want)
			assert.Equal(t, before, readLockText(t, dir))
		}
	})

	t.Run("a module that does not load is not locked", func(t *testing.T) {
		bad := "oci://" + reg.Host + "/f/bad:v1"
		out := filepath.Join(t.TempDir(), "bad.wasm")
		require.NoError(t, os.WriteFile(out, []byte("\x00asm\x01\x00\x00\x00"), 0o644))
		orasDir := filepath.Dir(out)
		require.NoError(t, os.WriteFile(filepath.Join(orasDir, "config.json"), []byte(`{"architecture":"wasm","os":"wasip1"}`), 0o644))
		orasPush(t, orasDir, strings.TrimPrefix(bad, "oci://"), "bad.wasm")
		before := readLockText(t, dir)
		_, stderr, status := runMain(t, "", "--cache-dir", t.TempDir(), "--dir", dir, "lock", bad)
		assert.Equal(t, ExitFailure, status)
		assert.Contains(t, stderr, "not locking "+bad+"@sha256:")
		assert.Equal(t, before, readLockText(t, dir))
	})
}

// orasPush pushes file of dir (with dir/config.json) as a CNCF Wasm
// artifact with the oras CLI.
func orasPush(t *testing.T, dir, ref, file string) {
	t.Helper()
	out, err := execIn(dir, oras(t), "push", "--plain-http", "--image-spec", "v1.0",
		"--config", "config.json:application/vnd.wasm.config.v0+json", ref, file+":application/wasm")
	require.NoError(t, err, out)
}

func TestParseLockReferences(t *testing.T) {
	d := strings.Repeat("a", 64)
	for _, tc := range []struct{ key, err string }{
		{"oci://h:5000/f/x:v1", ""},
		{"oci://h/f/x@sha256:" + strings.Repeat("b", 64), ""},
		{"oci://h/f/x:v1@sha256:" + strings.Repeat("b", 64), "a lock file pins a tag without a digest; write \"oci://h/f/x:v1\""},
		{"oci://h/F:v1", "line 1: oci: bad reference"},
		{"oci://h/f", "line 1: oci: bad reference"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			l, err := parseLock([]byte(d + "  " + tc.key + "\n"))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, lock{tc.key: d}, l)
		})
	}
}

// TestOCIUnlockedRefused checks that a locked --dir refuses a reference
// its lock does not list before asking any registry, and that
// --allow-unlocked lets it in.
func TestOCIUnlockedRefused(t *testing.T) {
	reg := ocitest.Start(t)
	tag := "oci://" + reg.Host + "/f/u:v1"
	pushed(t, "echo.wasm", tag)
	dir := lockedDir(t)
	for _, args := range [][]string{{"run", tag}, {"inspect", tag}, {"validate", tag}, {"bench", tag, "--duration", "1ms"},
		{"run", "oci://" + closedPortHost(t) + "/f/u:v1"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cache := t.TempDir()
			stdout, stderr, status := runMain(t, "hi\n", append([]string{"--cache-dir", cache, "--dir", dir}, args...)...)
			stderr += stdout // validate reports problems on standard output
			assert.NotEqual(t, ExitOK, status)
			assert.Contains(t, stderr, args[1]+" is not in "+filepath.Join(dir, LockFile))
			assert.Contains(t, stderr, "wasmreg lock --dir "+dir+" "+args[1])
			assert.Contains(t, stderr, "--allow-unlocked")
			assert.NotContains(t, stderr, "resolved", "refused before any registry is asked")
			assert.NoDirExists(t, filepath.Join(cache, "oci"), "nothing pulled")
		})
	}
	want, _, _ := runMain(t, "hi\n", "run", fixture("echo.wasm"))
	stdout, stderr, status := runMain(t, "hi\n", "--cache-dir", t.TempDir(), "--dir", dir, "--allow-unlocked", "run", tag)
	require.Equal(t, ExitOK, status, stderr)
	assert.Equal(t, want, stdout)
	stdout, stderr, status = runMain(t, "hi\n", "--cache-dir", t.TempDir(), "--dir", t.TempDir(), "run", tag)
	require.Equal(t, ExitOK, status, "a --dir without a lock file pins nothing: %s", stderr)
	assert.Equal(t, want, stdout)
}

func closedPortHost(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// TestOCIRegistryErrorsCLI checks what a user sees for each way a
// registry says no: the reference, the registry, the kind, and never the
// credentials. 401 and 404 are the real registry's; distribution 2.8's
// htpasswd auth gives every user it knows every right, so it cannot
// answer 403, and a loopback stub does.
func TestOCIRegistryErrorsCLI(t *testing.T) { // not parallel: it sets DOCKER_CONFIG
	open := ocitest.Start(t)
	authed := ocitest.StartWithAuth(t)
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
	}))
	t.Cleanup(forbidden.Close)
	const badPassword = "not-the-pw-never-shown"
	cfg := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(ocitest.User + ":" + badPassword))
	require.NoError(t, os.WriteFile(filepath.Join(cfg, "config.json"),
		[]byte(`{"auths":{"`+authed.Host+`":{"auth":"`+auth+`"}}}`), 0o600))
	t.Setenv("DOCKER_CONFIG", cfg)

	for _, tc := range []struct {
		name, host, want string
	}{
		{"401 wrong password", authed.Host, "unauthorized (401)"},
		{"403 (stub)", strings.TrimPrefix(forbidden.URL, "http://"), "forbidden (403)"},
		{"404", open.Host, "not found (404)"},
		{"unreachable", closedPortHost(t), "registry unreachable"},
	} {
		ref := "oci://" + tc.host + "/f/e:v1"
		for _, args := range [][]string{{"pull", ref}, {"run", ref}, {"push", fixture("echo.wasm"), ref}, {"lock", ref}} {
			if tc.name == "404" && args[0] == "push" {
				continue // a push makes the repository
			}
			t.Run(tc.name+" "+args[0], func(t *testing.T) {
				_, stderr, status := runMain(t, "hi\n", append([]string{"--cache-dir", t.TempDir(), "--dir", t.TempDir(), "--log-level", "debug"}, args...)...)
				assert.Equal(t, ExitFailure, status)
				assert.Contains(t, stderr, tc.want)
				assert.Contains(t, stderr, ref)
				assert.Contains(t, stderr, "(registry "+tc.host+")")
				assert.NotContains(t, stderr, badPassword)
				assert.NotContains(t, stderr, auth)
				assert.Equal(t, 1, strings.Count(stderr, "wasmreg: "), "one error line: %s", stderr)
			})
		}
	}
}

// TestOCIRegistryTimeout checks that --registry-timeout (and its
// environment variable) bounds a pull and a push from a registry that
// stalls, with an error that names the flag, and that nothing partial is
// left in the store.
func TestOCIRegistryTimeout(t *testing.T) { // not parallel: it sets WASMREG_REGISTRY_TIMEOUT
	done := make(chan struct{})
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return // the ping answers; everything after it stalls
		}
		if r.Method != http.MethodGet { // a push's requests: no answer at all
			select {
			case <-r.Context().Done():
			case <-done:
			}
			return
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("{"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(stall.Close)
	t.Cleanup(func() { close(done) }) // before Close, which waits for handlers
	ref := "oci://" + strings.TrimPrefix(stall.URL, "http://") + "/f/s:v1"

	for _, tc := range []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"flag run", "", []string{"--registry-timeout", "700ms", "run", ref}, "no answer within 700ms"},
		{"flag pull", "", []string{"pull", ref, "--registry-timeout", "700ms"}, "no answer within 700ms"},
		{"flag push", "", []string{"--registry-timeout", "700ms", "push", fixture("echo.wasm"), ref}, "no answer within 700ms"},
		{"environment", "800ms", []string{"pull", ref}, "no answer within 800ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("WASMREG_REGISTRY_TIMEOUT", tc.env)
			}
			cache := t.TempDir()
			start := time.Now()
			_, stderr, status := runMain(t, "hi\n", append([]string{"--cache-dir", cache}, tc.args...)...)
			assert.Less(t, time.Since(start), 10*time.Second)
			assert.Equal(t, ExitFailure, status)
			assert.Contains(t, stderr, tc.want)
			assert.Contains(t, stderr, "raise --registry-timeout")
			assert.Contains(t, stderr, ref)
			entries, _ := os.ReadDir(filepath.Join(cache, "oci", "blobs", "sha256"))
			assert.Empty(t, entries, "nothing partial in the store")
		})
	}
	for _, v := range []string{"0", "-1s", "soon"} {
		t.Run("bad value "+v, func(t *testing.T) {
			_, stderr, status := runMain(t, "", "--registry-timeout", v, "pull", ref)
			assert.Equal(t, ExitUsage, status)
			assert.Contains(t, stderr, "registry-timeout")
		})
	}
}

// execIn runs a command in dir and returns its combined output.
func execIn(dir, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}
