//go:build unix

package main_test

// Class 7 of the sandbox issue: --dir and module paths are checked before
// anything is read whole, compiled or run, and looking a name up grants
// nothing the user did not grant.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// factoryDir returns a directory holding copies of the host's fixtures
// (name → fixture path).
func factoryDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, from := range files {
		b, err := os.ReadFile(from)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	return dir
}

func digestOf(t *testing.T, path string) string {
	t.Helper()
	r := wasmreg(t, "", "inspect", path, "--json")
	require.Equal(t, 0, r.status, r.stderr)
	m := regexp.MustCompile(`"sha256": "([0-9a-f]{64})"`).FindStringSubmatch(r.stdout)
	require.NotNil(t, m, r.stdout)
	return m[1]
}

// TestDirReadsOnlyRegularFiles puts a FIFO, a symbolic link, a directory
// and a 40 GiB sparse file named *.wasm next to a factory: each is skipped
// with its reason, nothing hangs or is read whole, and the factory works.
func TestDirReadsOnlyRegularFiles(t *testing.T) {
	t.Parallel()
	dir := factoryDir(t, map[string]string{"echo.wasm": hostFixture("echo.wasm")})
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo.wasm"), 0o600))
	guest, err := filepath.Abs(hostFixture("guest.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.Symlink(guest, filepath.Join(dir, "link.wasm")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "dir.wasm"), 0o700))
	sparse := filepath.Join(dir, "sparse.wasm")
	require.NoError(t, os.WriteFile(sparse, nil, 0o600))
	require.NoError(t, os.Truncate(sparse, 40<<30))

	for _, args := range [][]string{{"list", "--dir", dir}, {"run", "echo", "--dir", dir}} {
		r := wasmreg(t, "x\n", args...)
		require.Equal(t, 0, r.status, r.stderr)
		assert.Less(t, r.elapsed, 20*time.Second)
		for file, why := range map[string]string{
			"fifo.wasm":   "is a named pipe (FIFO), not a regular file",
			"link.wasm":   "is a symbolic link: only regular files of --dir are read",
			"dir.wasm":    "is a directory, not a regular file",
			"sparse.wasm": "is 42949672960 bytes, over the module size limit of 67108864 (raise it with --module-size-limit)",
		} {
			assert.Contains(t, r.stderr, "wasmreg: warning: skipping "+filepath.Join(dir, file)+": ", "%q: %s", args, file)
			assert.Contains(t, r.stderr, why, "%q: %s", args, file)
		}
	}
	r := wasmreg(t, "", "list", "--dir", dir)
	assert.Regexp(t, `(?m)^echo\s+1\.0\.0\s`, r.stdout)
	assert.NotContains(t, r.stdout, "testguest", "the link is not followed")

	r = wasmreg(t, "", "run", filepath.Join(dir, "fifo.wasm"))
	assertFails(t, r, 1, "fifo.wasm is a named pipe (FIFO), not a regular file")
	r = wasmreg(t, "h\n", "run", filepath.Join(dir, "link.wasm"), "--grant", "clock", "--grant", "random", "--grant", "artifact=w=main.go")
	assert.Equal(t, 0, r.status, "a link the user typed is followed: %s", r.stderr)
}

// TestNameLookupGrantsNothing looks up a factory in a directory that also
// holds clock_start, whose start function reads the clock and then logs
// "observed the clock": the lookup runs it with no more than the user
// granted, and with --sha256 not at all.
func TestNameLookupGrantsNothing(t *testing.T) {
	t.Parallel()
	echo := hostFixture("echo.wasm")
	dir := factoryDir(t, map[string]string{"echo.wasm": echo, "clock_start.wasm": hostFixture("clock_start.wasm")})
	digest := digestOf(t, echo)
	const observed = "observed the clock"

	r := wasmreg(t, "x\n", "run", "echo", "--dir", dir)
	require.Equal(t, 0, r.status, r.stderr)
	assert.Equal(t, "{}\n", r.stdout)
	assert.NotContains(t, r.stderr, observed, "the user granted no clock")
	assert.Contains(t, r.stderr, "skipping "+filepath.Join(dir, "clock_start.wasm")+": ")
	assert.Contains(t, r.stderr, "capability not granted")

	r = wasmreg(t, "x\n", "run", "echo", "--dir", dir, "--sha256", digest)
	require.Equal(t, 0, r.status, r.stderr)
	assert.Empty(t, r.stderr, "pinned: no other module is even compiled")

	r = wasmreg(t, "x\n", "run", "echo", "--dir", dir, "--grant", "clock")
	require.Equal(t, 0, r.status, r.stderr)
	assert.Contains(t, r.stderr, observed, "what the user granted, the lookup grants")

	for _, cmd := range [][]string{{"list", "--dir", dir}, {"inspect", "echo", "--dir", dir}, {"lock", "--dir", dir}} {
		r = wasmreg(t, "", cmd...)
		assert.NotContains(t, r.stderr, observed, "%q grants nothing", cmd)
	}
}

// TestSHA256CheckedFirst checks that a --sha256 that nothing matches is
// refused before any module is compiled or run: no module's warning, and
// no start function's log line.
func TestSHA256CheckedFirst(t *testing.T) {
	t.Parallel()
	dir := factoryDir(t, map[string]string{"echo.wasm": hostFixture("echo.wasm"),
		"clock_start.wasm": hostFixture("clock_start.wasm"), "broken.wasm": "main_test.go"})
	wrong := strings.Repeat("0", 64)

	r := wasmreg(t, "x\n", "run", "echo", "--dir", dir, "--sha256", wrong, "--grant", "clock")
	assertFails(t, r, 1, `factory "echo" with sha256 `+wrong+` not found in `+dir+` (found with that sha256: none; 3 other modules passed over)`)

	clock := filepath.Join(dir, "clock_start.wasm")
	r = wasmreg(t, "x\n", "run", clock, "--sha256", wrong, "--grant", "clock")
	assertFails(t, r, 1, "refusing to load "+clock+": its sha256 is ")
	assert.NotContains(t, r.stderr, "observed the clock")
}

// TestLockAppliesToPaths checks that a module file typed inside a locked
// directory, or reached through a link into one, obeys its lock.
func TestLockAppliesToPaths(t *testing.T) {
	t.Parallel()
	dir := factoryDir(t, map[string]string{"echo.wasm": hostFixture("echo.wasm")})
	r := wasmreg(t, "", "lock", "--dir", dir)
	require.Equal(t, 0, r.status, r.stderr)
	b, err := os.ReadFile(hostFixture("clock_start.wasm"))
	require.NoError(t, err)
	clock := filepath.Join(dir, "clock_start.wasm")
	require.NoError(t, os.WriteFile(clock, b, 0o644))
	link := filepath.Join(t.TempDir(), "elsewhere.wasm")
	require.NoError(t, os.Symlink(clock, link))

	r = wasmreg(t, "x\n", "run", filepath.Join(dir, "echo.wasm"))
	require.Equal(t, 0, r.status, "a locked module runs: %s", r.stderr)
	for _, args := range [][]string{
		{"run", clock, "--grant", "clock"},
		{"run", link, "--grant", "clock"},
		{"inspect", clock},
		{"bench", clock, "--grant", "clock", "--duration", "100ms"},
	} {
		r = wasmreg(t, "x\n", args...)
		assertFails(t, r, 1, "clock_start.wasm is not in wasmreg.lock")
		assert.NotContains(t, r.stderr, "observed the clock", "%q", args)
	}
	r = wasmreg(t, "", "validate", clock)
	assert.Equal(t, 1, r.status)
	assert.Contains(t, r.stdout, "clock_start.wasm is not in wasmreg.lock")

	r = wasmreg(t, "x\n", "run", clock, "--grant", "clock", "--allow-unlocked")
	require.Equal(t, 0, r.status, r.stderr)
	assert.Contains(t, r.stderr, "observed the clock")

	// A changed module is refused by its path too.
	b, err = os.ReadFile(hostFixture("guest.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "echo.wasm"), b, 0o644))
	r = wasmreg(t, "x\n", "run", filepath.Join(dir, "echo.wasm"))
	assertFails(t, r, 1, "echo.wasm changed: its sha256 is ")
}

// TestLockRefusalInFinalError checks that a name whose module the lock
// file refused says so in the final error, not only in a warning above it.
func TestLockRefusalInFinalError(t *testing.T) {
	t.Parallel()
	dir := factoryDir(t, map[string]string{"echo.wasm": hostFixture("echo.wasm"), "guest.wasm": hostFixture("guest.wasm")})
	r := wasmreg(t, "", "lock", "--dir", dir)
	require.Equal(t, 0, r.status, r.stderr)
	b, err := os.ReadFile(hostFixture("clock.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "echo.wasm"), b, 0o644)) // changed
	require.NoError(t, os.WriteFile(filepath.Join(dir, "new.wasm"), b, 0o644))  // not listed

	r = wasmreg(t, "x\n", "run", "echo", "--dir", dir)
	assert.Equal(t, 1, r.status, r.stderr)
	lines := r.stderrLines()
	require.NotEmpty(t, lines)
	last := lines[len(lines)-1]
	assert.Contains(t, last, `factory "echo" not found in `+dir)
	assert.Contains(t, last, "2 modules refused by wasmreg.lock: echo.wasm (changed since it was locked), new.wasm (not listed)")
	assert.Contains(t, last, "echo.wasm may be the one: if you trust it, run 'wasmreg lock --dir "+dir+"' or pass --allow-unlocked")
}

// TestPathRelativeToCurrentDirectory checks that a .wasm path that is not
// found says that paths are relative to the current directory, not --dir.
func TestPathRelativeToCurrentDirectory(t *testing.T) {
	t.Parallel()
	dir := factoryDir(t, map[string]string{"echo.wasm": hostFixture("echo.wasm")})
	r := wasmreg(t, "x\n", "--dir", dir, "run", "echo.wasm")
	assertFails(t, r, 1, "factory module echo.wasm does not exist (a .wasm path is relative to the current directory, not to --dir; "+
		filepath.Join(dir, "echo.wasm")+" is there: give that path, or the factory's name")
	r = wasmreg(t, "x\n", "--dir", dir, "run", "none.wasm")
	assertFails(t, r, 1, "factory module none.wasm does not exist (a .wasm path is relative to the current directory, not to --dir)")
}
