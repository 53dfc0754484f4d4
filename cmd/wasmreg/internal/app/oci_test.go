package app

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/oci/ocitest"
)

// pushed pushes fixture file under ref with a cache dir of its own and
// returns the digest-pinned reference it printed.
func pushed(t *testing.T, file, ref string) string {
	t.Helper()
	stdout, stderr, status := runMain(t, "", "--cache-dir", t.TempDir(), "push", fixture(file), ref)
	require.Equal(t, ExitOK, status, stderr)
	out := strings.TrimSpace(stdout)
	require.True(t, strings.HasPrefix(out, ref+"@sha256:"), out)
	return out
}

func moduleSHA(t *testing.T, file string) string {
	b, err := os.ReadFile(fixture(file))
	require.NoError(t, err)
	return host.Digest(b)
}

func TestOCIRoundTrip(t *testing.T) {
	reg := ocitest.Start(t)
	tag := "oci://" + reg.Host + "/factories/echo:v1"
	byDigest := "oci://" + reg.Host + "/factories/echo@" + strings.SplitN(pushed(t, "echo.wasm", tag), "@", 2)[1]

	want, _, status := runMain(t, "hello\nworld\n", "run", fixture("echo.wasm"))
	require.Equal(t, ExitOK, status)
	for _, ref := range []string{tag, byDigest} {
		t.Run(ref, func(t *testing.T) {
			cache := t.TempDir()
			out := filepath.Join(t.TempDir(), "m.wasm")
			_, stderr, status := runMain(t, "", "--cache-dir", cache, "pull", ref, "-o", out)
			require.Equal(t, ExitOK, status, stderr)
			got, err := os.ReadFile(out)
			require.NoError(t, err)
			orig, err := os.ReadFile(fixture("echo.wasm"))
			require.NoError(t, err)
			assert.Equal(t, orig, got)

			stdout, stderr, status := runMain(t, "hello\nworld\n", "--cache-dir", t.TempDir(), "run", ref)
			require.Equal(t, ExitOK, status, stderr)
			assert.Equal(t, want, stdout)
			if ref == tag {
				assert.Contains(t, stderr, "resolved "+tag+" to sha256:")
			}
		})
	}
	t.Run("inspect and validate", func(t *testing.T) {
		_, stderr, status := runMain(t, "", "--cache-dir", t.TempDir(), "validate", byDigest)
		assert.Equal(t, ExitOK, status, stderr)
		_, stderr, status = runMain(t, "", "--cache-dir", t.TempDir(), "inspect", byDigest)
		assert.Equal(t, ExitOK, status, stderr)
	})
}

func TestOCIPushRefusesInvalid(t *testing.T) {
	reg := ocitest.Start(t)
	_, stderr, status := runMain(t, "", "--cache-dir", t.TempDir(), "push", fixture("bad_metadata.wasm"), "oci://"+reg.Host+"/f/bad:v1")
	assert.Equal(t, ExitFailure, status)
	assert.Contains(t, stderr, "not pushing")
	_, stderr, status = runMain(t, "", "--cache-dir", t.TempDir(), "pull", "oci://"+reg.Host+"/f/bad:v1")
	assert.Equal(t, ExitFailure, status)
	assert.Contains(t, stderr, "not found")
}

func TestOCIMovedTag(t *testing.T) {
	reg := ocitest.Start(t)
	tag := "oci://" + reg.Host + "/f/m:v1"
	pushed(t, "echo.wasm", tag)
	old := moduleSHA(t, "echo.wasm")
	pushed(t, "guest.wasm", tag) // the tag moves

	_, stderr, status := runMain(t, "x\n", "--cache-dir", t.TempDir(), "run", tag, "--sha256", old)
	assert.Equal(t, ExitFailure, status)
	assert.Contains(t, stderr, old)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, LockFile), []byte(old+"  "+tag+"\n"), 0o644))
	_, stderr, status = runMain(t, "", "--dir", dir, "lock")
	require.Equal(t, ExitOK, status, stderr)
	lockText, err := os.ReadFile(filepath.Join(dir, LockFile))
	require.NoError(t, err)
	assert.Contains(t, string(lockText), old+"  "+tag, "wasmreg lock keeps the pins of references")
	_, stderr, status = runMain(t, "x\n", "--cache-dir", t.TempDir(), "--dir", dir, "run", tag)
	assert.Equal(t, ExitFailure, status)
	assert.Contains(t, stderr, old)
	assert.Contains(t, stderr, moduleSHA(t, "guest.wasm"))
}

func TestOCIOfflineAndTampered(t *testing.T) {
	reg := ocitest.Start(t)
	tag := "oci://" + reg.Host + "/f/o:v1"
	ref := pushed(t, "echo.wasm", tag)
	cache := t.TempDir()
	_, stderr, status := runMain(t, "", "--cache-dir", cache, "pull", ref)
	require.Equal(t, ExitOK, status, stderr)

	// The layer blob, overwritten in the registry's storage.
	layer := digest.Digest("sha256:" + moduleSHA(t, "echo.wasm"))
	data := filepath.Join(reg.Storage, "docker/registry/v2/blobs/sha256", layer.Encoded()[:2], layer.Encoded(), "data")
	evil, err := os.ReadFile(fixture("guest.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(data, evil, 0o644))
	_, stderr, status = runMain(t, "hi\n", "--cache-dir", t.TempDir(), "run", ref)
	assert.Equal(t, ExitFailure, status)
	assert.Contains(t, stderr, layer.String())
	assert.Contains(t, stderr, digest.FromBytes(evil).String())

	reg.Stop()
	want, _, _ := runMain(t, "hi\n", "run", fixture("echo.wasm"))
	stdout, stderr, status := runMain(t, "hi\n", "--cache-dir", cache, "run", ref)
	assert.Equal(t, ExitOK, status, "a digest in the store runs offline: %s", stderr)
	assert.Equal(t, want, stdout)
	_, stderr, status = runMain(t, "hi\n", "--cache-dir", cache, "run", tag)
	assert.Equal(t, ExitFailure, status)
	assert.Contains(t, stderr, "registry "+reg.Host)
	assert.Contains(t, stderr, "unreachable")
}

func TestOCIBadReference(t *testing.T) {
	for _, ref := range []string{"oci://", "oci://h/r", "oci://h/R:t", "oci://h/r@md5:00"} {
		t.Run(ref, func(t *testing.T) {
			_, stderr, status := runMain(t, "", "--cache-dir", t.TempDir(), "run", ref)
			assert.Equal(t, ExitFailure, status)
			assert.Contains(t, stderr, "bad reference")
		})
	}
}

// oras returns the oras CLI that `make deps` installs.
func oras(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("oras"); err == nil {
		return p
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	require.NoError(t, err)
	p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "oras")
	_, err = os.Stat(p)
	require.NoError(t, err, "oras not installed: run `make deps`")
	return p
}

func TestOCIInterop(t *testing.T) {
	reg := ocitest.Start(t)
	ref := pushed(t, "echo.wasm", "oci://"+reg.Host+"/f/i:v1")
	plain := strings.TrimPrefix(ref, "oci://")

	t.Run("oras reads ours", func(t *testing.T) {
		dir := t.TempDir()
		out, err := exec.Command(oras(t), "pull", "--plain-http", "-o", dir, plain).CombinedOutput()
		require.NoError(t, err, string(out))
		out, err = exec.Command(oras(t), "manifest", "fetch", "--plain-http", plain).CombinedOutput()
		require.NoError(t, err, string(out))
		assert.Contains(t, string(out), "application/vnd.wasm.config.v0+json")
	})
	t.Run("skopeo inspects ours", func(t *testing.T) {
		out, err := exec.Command("skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+reg.Host+"/f/i@"+strings.SplitN(plain, "@", 2)[1]).CombinedOutput()
		require.NoError(t, err, string(out))
		assert.Contains(t, string(out), "application/wasm")
	})
	t.Run("two layers refused", func(t *testing.T) {
		dir := t.TempDir()
		b, err := os.ReadFile(fixture("echo.wasm"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "a.wasm"), b, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "b.wasm"), b[:len(b)-1], 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architecture":"wasm","os":"wasip1"}`), 0o644))
		cmd := exec.Command(oras(t), "push", "--plain-http", "--image-spec", "v1.0",
			"--config", "config.json:application/vnd.wasm.config.v0+json", reg.Host+"/f/two:v1", "a.wasm:application/wasm", "b.wasm:application/wasm")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		cache := t.TempDir()
		_, stderr, status := runMain(t, "hi\n", "--cache-dir", cache, "run", "oci://"+reg.Host+"/f/two:v1")
		assert.Equal(t, ExitFailure, status)
		assert.Contains(t, stderr, "2 layers, want exactly one")
		entries, _ := os.ReadDir(filepath.Join(cache, "oci", "blobs", "sha256"))
		assert.Empty(t, entries, "nothing of a refused artifact is stored")
	})
	t.Run("other media type refused", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "a.bin"), []byte("\x00asm\x01\x00\x00\x00"), 0o644))
		cmd := exec.Command(oras(t), "push", "--plain-http", reg.Host+"/f/other:v1", "a.bin:application/octet-stream")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		_, stderr, status := runMain(t, "", "--cache-dir", t.TempDir(), "inspect", "oci://"+reg.Host+"/f/other:v1")
		assert.Equal(t, ExitFailure, status)
		assert.Contains(t, stderr, "not a wasm artifact")
	})
	t.Run("we run what oras pushed", func(t *testing.T) {
		dir := t.TempDir()
		b, err := os.ReadFile(fixture("echo.wasm"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "module.wasm"), b, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architecture":"wasm","os":"wasip1"}`), 0o644))
		cmd := exec.Command(oras(t), "push", "--plain-http", "--image-spec", "v1.0",
			"--config", "config.json:application/vnd.wasm.config.v0+json", reg.Host+"/f/byoras:v1", "module.wasm:application/wasm")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		stdout, stderr, status := runMain(t, "hi\n", "--cache-dir", t.TempDir(), "run", "oci://"+reg.Host+"/f/byoras:v1")
		require.Equal(t, ExitOK, status, stderr)
		want, _, _ := runMain(t, "hi\n", "run", fixture("echo.wasm"))
		assert.Equal(t, want, stdout)
	})
}

func TestOCICredentials(t *testing.T) { // not parallel: it sets DOCKER_CONFIG
	reg := ocitest.StartWithAuth(t)
	ref := "oci://" + reg.Host + "/f/auth:v1"
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	_, stderr, status := runMain(t, "", "--cache-dir", t.TempDir(), "push", fixture("echo.wasm"), ref)
	assert.Equal(t, ExitFailure, status)
	assert.Contains(t, stderr, "unauthorized (401)")
	assert.Contains(t, stderr, "registry "+reg.Host)

	cfg := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(ocitest.User + ":" + ocitest.Password))
	require.NoError(t, os.WriteFile(filepath.Join(cfg, "config.json"),
		[]byte(`{"auths":{"`+reg.Host+`":{"auth":"`+auth+`"}}}`), 0o600))
	t.Setenv("DOCKER_CONFIG", cfg)
	stdout, stderr, status := runMain(t, "", "--cache-dir", t.TempDir(), "--log-level", "debug", "push", fixture("echo.wasm"), ref)
	require.Equal(t, ExitOK, status, stderr)
	stdout2, stderr2, status := runMain(t, "", "--cache-dir", t.TempDir(), "--log-level", "debug", "run", ref)
	require.Equal(t, ExitOK, status, stderr2)
	for _, out := range []string{stdout, stderr, stdout2, stderr2} {
		assert.NotContains(t, out, ocitest.Password)
		assert.NotContains(t, out, auth)
	}
}

// TestPullKServeStorage runs pull the way KServe runs a storage
// initializer: REF and the model directory as arguments.
func TestPullKServeStorage(t *testing.T) {
	reg := ocitest.Start(t)
	ref := pushed(t, "echo.wasm", "oci://"+reg.Host+"/factories/echo:v1")
	dir := t.TempDir()
	_, stderr, status := runMain(t, "", "--cache-dir", t.TempDir(), "pull", "--kserve-storage", ref, dir)
	require.Equal(t, ExitOK, status, stderr)
	got, err := os.ReadFile(filepath.Join(dir, KServeFactoryFile))
	require.NoError(t, err)
	orig, err := os.ReadFile(fixture("echo.wasm"))
	require.NoError(t, err)
	assert.Equal(t, orig, got)

	for name, args := range map[string][]string{
		"no directory": {"pull", "--kserve-storage", ref},
		"and -o":       {"pull", "--kserve-storage", "-o", filepath.Join(dir, "x.wasm"), ref, dir},
	} {
		t.Run(name, func(t *testing.T) {
			_, stderr, status := runMain(t, "", append([]string{"--cache-dir", t.TempDir()}, args...)...)
			assert.Equal(t, ExitUsage, status, stderr)
			assert.Contains(t, stderr, "kserve-storage")
		})
	}
}
