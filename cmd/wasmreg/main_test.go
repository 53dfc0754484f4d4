package main_test

// End-to-end tests: they build the wasmreg binary once and run it as users
// do, on the host's WAT fixtures (host/testdata/*.wat says what each does)
// and on the fixtures in testdata/.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	binary   string // the wasmreg binary under test
	cacheDir string // a compilation cache shared by the tests' runs
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wasmreg-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "wasmreg")
	cacheDir = filepath.Join(dir, "cache")
	//lint:ignore SA1019 the go command that runs the tests is wanted, and no other API names it
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	build := exec.Command(goTool, "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as make wasmreg builds it
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/wasmreg: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func hostFixture(name string) string { return filepath.Join("..", "..", "host", "testdata", name) }

// result is what one run of the binary did.
type result struct {
	stdout, stderr string
	status         int
	elapsed        time.Duration
}

// stderrLines returns the lines of standard error.
func (r result) stderrLines() []string {
	s := strings.TrimRight(r.stderr, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// wasmreg runs the binary with args and stdin, without any WASMREG_
// variable of the caller's environment, with the shared compilation cache.
func wasmreg(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return wasmregIn(t, "", stdin, args...)
}

// wasmregIn is wasmreg run in the directory dir.
func wasmregIn(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	r := runBinary(t, dir, stdin, args...)
	assert.NotContains(t, r.stderr, "goroutine ", "no stack traces")
	assert.NotContains(t, r.stderr, "panic", "no panics")
	return r
}

// runBinary is wasmregIn without its checks that nothing panicked, for
// guests that do.
func runBinary(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WASMREG_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "WASMREG_CACHE_DIR="+cacheDir)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.status = exit.ExitCode()
	case err != nil:
		t.Fatalf("wasmreg %q: %v", args, err)
	}
	return r
}

// assertFails checks a failure: status, and one line on standard error
// that says want.
func assertFails(t *testing.T, r result, status int, want string) {
	t.Helper()
	assert.Equal(t, status, r.status, "stderr: %s", r.stderr)
	lines := r.stderrLines()
	if assert.Len(t, lines, 1, "one line of error: %q", r.stderr) {
		assert.True(t, strings.HasPrefix(lines[0], "wasmreg: "), lines[0])
		assert.Contains(t, lines[0], want)
	}
}

// weightsFile writes an artifact file for the guest fixture.
func weightsFile(t *testing.T, contents string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "weights.bin")
	require.NoError(t, os.WriteFile(path, []byte(contents), 0o600))
	return path
}

func TestRunEcho(t *testing.T) {
	t.Parallel()
	r := wasmreg(t, "first\n\nsecond\r\nthird", "run", hostFixture("echo.wasm"), "--config", `{"a":1}`)
	require.Equal(t, 0, r.status, r.stderr)
	assert.Equal(t, "{\"a\":1}\n{\"a\":1}\n{\"a\":1}\n", r.stdout)
	assert.Empty(t, r.stderr)
}

// TestRunFlagsAfterPositionals checks that flags typed after the factory
// are honoured, not silently ignored.
func TestRunFlagsAfterPositionals(t *testing.T) {
	t.Parallel()
	echo := hostFixture("echo.wasm")
	config := filepath.Join(t.TempDir(), "c.json")
	require.NoError(t, os.WriteFile(config, []byte(`{"from":"file"}`), 0o600))
	requests := filepath.Join(t.TempDir(), "requests.txt")
	require.NoError(t, os.WriteFile(requests, []byte("1\n2\n"), 0o600))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"config", []string{"run", echo, "--config", `{"after":true}`}, "{\"after\":true}\n"},
		{"config file", []string{"run", echo, "--config", "@" + config}, "{\"from\":\"file\"}\n"},
		{"input", []string{"run", echo, "--input", requests, "--config", "[2]"}, "[2]\n[2]\n"},
		{"global dir after name", []string{"run", "echo@1.0.0", "--dir", hostFixture("")}, "{}\n"},
		{"everything after", []string{"run", "ECHO", "--timeout", "5s", "--memory-limit", "1MiB",
			"--dir", hostFixture(""), "--log-level", "error", "--config", "3"}, "3\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := wasmreg(t, "request\n", tc.args...)
			require.Equal(t, 0, r.status, r.stderr)
			assert.Equal(t, tc.want, r.stdout)
		})
	}
	// The memory limit after the factory is applied: echo needs 64 KiB.
	r := wasmreg(t, "", "run", echo, "--memory-limit", "100000")
	assertFails(t, r, 2, "invalid option: --memory-limit: 100000 bytes is not a multiple of 64 KiB")
}

func TestRunGuestCapabilities(t *testing.T) {
	t.Parallel()
	weights := weightsFile(t, "the weights")
	requests := "a\nr\nr\nhello\ne\nk\n"
	r := wasmreg(t, requests, "run", hostFixture("guest.wasm"), "--config", `"cfg"`,
		"--grant", "clock", "--grant", "random=7", "--grant", "artifact=weights="+weights)
	assert.Equal(t, 1, r.status, "line 5 fails")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Len(t, lines, 5, "one line per answered request: %q", r.stdout)
	assert.Equal(t, "the weights", lines[0], "artifact")
	assert.Equal(t, lines[1], lines[2], "random=SEED makes every request's stream the same")
	assert.NotEmpty(t, lines[1])
	assert.Equal(t, `"cfg"hello`, lines[3])
	assert.NotEmpty(t, lines[4], "clock")
	assert.Equal(t, []string{
		`line 5: host: factory "testguest@1.2.3" export wasmreg_predict returned code 2: bad request`,
		"wasmreg: 1 of 6 requests failed",
	}, r.stderrLines())
}

func TestRunFailingRequestKeepsGoing(t *testing.T) {
	t.Parallel()
	weights := weightsFile(t, "w")
	r := wasmreg(t, "h1\n\ne\nt\nh2\n", "run", hostFixture("guest.wasm"),
		"--grant", "clock", "--grant", "random", "--grant", "artifact=weights="+weights)
	assert.Equal(t, 1, r.status)
	assert.Equal(t, "{}h1\n{}h2\n", r.stdout, "the other lines are still answered, in order")
	lines := r.stderrLines()
	require.Len(t, lines, 4, r.stderr)
	assert.Equal(t, `line 3: host: factory "testguest@1.2.3" export wasmreg_predict returned code 2: bad request`, lines[0],
		"blank lines count for line numbers")
	assert.Equal(t, `line 4: host: factory "testguest@1.2.3" export wasmreg_predict: wasm error: unreachable`, lines[1])
	assert.Equal(t, "wasmreg: warning: building the model again for line 5: an earlier failure closed it", lines[2])
	assert.Equal(t, "wasmreg: 2 of 4 requests failed", lines[3])
}

// TestRunHostileModule runs a request that loops forever: the time limit
// stops it, and the run fails quickly with one line saying so.
func TestRunHostileModule(t *testing.T) {
	t.Parallel()
	weights := weightsFile(t, "w")
	r := wasmreg(t, "l\n", "run", hostFixture("guest.wasm"), "--timeout", "1s",
		"--grant", "clock", "--grant", "random", "--grant", "artifact=weights="+weights)
	assert.NotEqual(t, 0, r.status)
	assert.Less(t, r.elapsed, 10*time.Second)
	assert.Empty(t, r.stdout)
	lines := r.stderrLines()
	require.NotEmpty(t, lines)
	assert.Regexp(t, `^line 1: host: factory "testguest@1\.2\.3" export wasmreg_predict: .*time limit.*\b1s\b`, lines[0])
	assert.NotContains(t, lines[0], "host.With", "advice names the CLI's flags, not Go options")
	assert.LessOrEqual(t, len(lines), 2, "the error and the summary: %q", r.stderr)
}

// TestRunInterrupted answers requests as they arrive on a pipe, then gets
// SIGINT during a guest call that would never end: the call is stopped and
// the run exits with status 130.
func TestRunInterrupted(t *testing.T) {
	t.Parallel()
	weights := weightsFile(t, "w")
	cmd := exec.Command(binary, "run", hostFixture("guest.wasm"), "--timeout", "0",
		"--grant", "clock", "--grant", "random", "--grant", "artifact=weights="+weights)
	cmd.Env = append(os.Environ(), "WASMREG_CACHE_DIR="+cacheDir)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdoutPipe, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()
	stdout := bufio.NewReader(stdoutPipe)

	_, err = io.WriteString(stdin, "h\n")
	require.NoError(t, err)
	line, err := stdout.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "{}h\n", line, "answered while standard input is still open")

	_, err = io.WriteString(stdin, "l\n") // loops forever
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	rest, _ := io.ReadAll(stdout)
	assert.Empty(t, rest)

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit)
		assert.Equal(t, 130, exit.ExitCode(), stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not stop on SIGINT")
	}
	assert.Equal(t, "wasmreg: interrupted after 1 request\n", stderr.String())
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	echo := hostFixture("echo.wasm")
	tests := []struct {
		name   string
		args   []string
		status int
		want   string
	}{
		{"missing file", []string{"run", "nope.wasm"}, 1, "factory module nope.wasm does not exist"},
		{"not wasm", []string{"run", "main.go"}, 1, "load main.go: host: invalid module"},
		{"bad config", []string{"run", echo, "--config", `{"a":}`}, 2, "--config is not valid JSON"},
		{"missing config file", []string{"run", echo, "--config", "@nope.json"}, 1, "--config: read config file: open nope.json"},
		{"bad flag", []string{"run", echo, "--frobnicate"}, 2, "unknown flag --frobnicate (see 'wasmreg run --help')"},
		{"bad global flag", []string{"--frobnicate", "run", echo}, 2, "unknown flag --frobnicate (see 'wasmreg --help')"},
		{"misspelt flag", []string{"run", echo, "--confg", "{}"}, 2, "unknown flag --confg: did you mean --config?"},
		{"duration without unit", []string{"run", echo, "--timeout", "5"}, 2, "--timeout 5: a duration needs a unit, such as 5s"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"not granted", []string{"run", hostFixture("clock.wasm")}, 1,
			"clockuser@1.0.0 needs capabilities that were not granted: clock (add --grant clock)"},
		{"missing artifact file", []string{"run", echo, "--grant", "artifact=w=nope.bin"}, 1,
			`--grant artifact: host: artifact "w": open nope.bin`},
		{"unknown name", []string{"run", "nothing", "--dir", hostFixture("")}, 1,
			`factory "nothing" not found in`},
		{"missing dir", []string{"run", "echo", "--dir", "nowhere"}, 1,
			"read factories directory: open nowhere: no such file or directory (set --dir or WASMREG_DIR)"},
		{"invalid name", []string{"run", "a b"}, 1, `"a b" is neither a file nor a factory name`},
		{"output limit", []string{"run", echo, "--output-limit", "2"}, 1, "output limit exceeded: wasmreg_info wrote more than 2 bytes (raise it with --output-limit)"},
		{"module size limit", []string{"run", echo, "--module-size-limit", "100"}, 1, "echo.wasm is 324 bytes, over the module size limit of 100 (raise it with --module-size-limit)"},
		{"bad input limit", []string{"run", echo, "--input-limit", "0"}, 2, "invalid option: --input-limit: 0 bytes is not between 1 and 2^31-1"},
		{"bad max instances", []string{"run", echo, "--max-instances", "0"}, 2, "--max-instances: 0 is not positive"},
		{"bad compile concurrency", []string{"run", echo, "--compile-concurrency", "0"}, 2, "--compile-concurrency: 0 is not positive"},
		{"bad log limits", []string{"run", echo, "--log-lines-per-call", "0"}, 2, "invalid option: --log-line-limit or --log-lines-per-call: line limit 4096 (at least 16) or lines per call 0 (at least 1)"},
		{"config breaks config_schema", []string{"run", hostFixture("guest.wasm"), "--config", `[1]`, "--grant", "clock", "--grant", "random",
			"--grant", "artifact=w=main.go"}, 1, `build testguest@1.2.3: host: invalid config: factory "testguest@1.2.3": the config breaks config_schema: (root): got array, want string or object`},
		{"build fails", []string{"run", hostFixture("guest.wasm"), "--config", `"Code"`, "--grant", "clock", "--grant", "random",
			"--grant", "artifact=w=main.go"}, 1, `build testguest@1.2.3: host: factory "testguest@1.2.3" export wasmreg_build returned code 5`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := wasmreg(t, "request\n", tc.args...)
			if tc.name == "unknown name" {
				// The directory's broken modules are warned about first.
				lines := r.stderrLines()
				require.NotEmpty(t, lines)
				r.stderr = lines[len(lines)-1] + "\n"
			}
			assertFails(t, r, tc.status, tc.want)
			assert.Empty(t, r.stdout)
		})
	}
}

func TestRunSHA256(t *testing.T) {
	t.Parallel()
	echo := hostFixture("echo.wasm")
	wasm, err := os.ReadFile(echo)
	require.NoError(t, err)
	sum := sha256.Sum256(wasm)
	digest := hex.EncodeToString(sum[:])

	r := wasmreg(t, "x\n", "run", echo, "--sha256", strings.ToUpper(digest))
	require.Equal(t, 0, r.status, r.stderr)
	assert.Equal(t, "{}\n", r.stdout)

	wrong := strings.Repeat("0", 64)
	r = wasmreg(t, "x\n", "run", echo, "--sha256", wrong)
	assertFails(t, r, 1, fmt.Sprintf("refusing to load %s: its sha256 is %s, --sha256 wants %s", echo, digest, wrong))
	assert.Empty(t, r.stdout)
}

func TestList(t *testing.T) {
	t.Parallel()
	r := wasmreg(t, "", "list", "--dir", hostFixture(""))
	require.Equal(t, 0, r.status, "broken modules do not fail list: %s", r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 7, r.stdout)
	assert.Regexp(t, `^NAME\s+VERSION\s+DESCRIPTION\s+CAPABILITIES\s+SIZE\s+SHA256$`, lines[0])
	assert.Regexp(t, `^clockuser\s+1\.0\.0\s+-\s+clock\s+\d+B\s+[0-9a-f]{64}$`, lines[1])
	assert.Regexp(t, `^echo\s+1\.0\.0\s+answers with its config\s+-\s+324B\s+[0-9a-f]{64}$`, lines[2])
	assert.Regexp(t, `^fuzzimports\s+1\.0\.0\s+-\s+artifact,clock,random\s+\d+B\s+[0-9a-f]{64}$`, lines[3])
	assert.Regexp(t, `^memloop\s+1\.0\.0\s+-\s+-\s+\d+B\s+[0-9a-f]{64}$`, lines[4])
	assert.Regexp(t, `^spin\s+1\.0\.0\s+counts to 2\^26\s+-\s+\d+B\s+[0-9a-f]{64}$`, lines[5])
	assert.Regexp(t, `^testguest\s+1\.2\.3\s+exercises every import of ABI v1\s+artifact,clock,(log,)?random\s+1\.4KiB\s+[0-9a-f]{64}$`, lines[6])
	for _, broken := range []string{"bad_metadata", "bad_version", "big_memory", "env_import", "info_fails",
		"init_output", "missing_export", "refused_metadata", "unknown_capability", "unknown_import", "wrong_type"} {
		assert.Regexp(t, regexp.MustCompile(`(?m)^wasmreg: warning: skipping \S*`+broken+`\.wasm: .+$`), r.stderr)
	}

	// Two files with one name@version: the first, by file name, wins.
	dir := t.TempDir()
	wasm, err := os.ReadFile(hostFixture("echo.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.wasm"), wasm, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.wasm"), wasm, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a module"), 0o600))
	r = wasmreg(t, "", "ls", "--dir", dir)
	require.Equal(t, 0, r.status, r.stderr)
	assert.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), 2)
	assert.Equal(t, []string{"wasmreg: warning: skipping " + filepath.Join(dir, "b.wasm") + ": echo@1.0.0 is also in a.wasm; skipped"},
		r.stderrLines())

	r = wasmreg(t, "", "list", "--dir", filepath.Join(dir, "missing"))
	assertFails(t, r, 1, "read factories directory")
}

func TestInspect(t *testing.T) {
	t.Parallel()
	guest := hostFixture("guest.wasm")
	wasm, err := os.ReadFile(guest)
	require.NoError(t, err)
	sum := sha256.Sum256(wasm)
	digest := hex.EncodeToString(sum[:])
	if sha256sum, err := exec.LookPath("sha256sum"); err == nil {
		out, err := exec.Command(sha256sum, guest).Output()
		require.NoError(t, err)
		require.Equal(t, digest, strings.Fields(string(out))[0])
	}

	r := wasmreg(t, "", "inspect", guest)
	require.Equal(t, 0, r.status, r.stderr)
	for _, want := range []string{
		"name:         testguest\n",
		"version:      1.2.3\n",
		"description:  exercises every import of ABI v1\n",
		"abi version:  1\n",
		fmt.Sprintf("size:         %d bytes (1.4KiB)\n", len(wasm)),
		"sha256:       " + digest + "\n",
		"exports (5):\n  _initialize\n  wasmreg_abi_version\n  wasmreg_build\n  wasmreg_info\n  wasmreg_predict\n",
		"imports (10):\n  wasmreg.input\n",
		"  wasmreg.artifact_read\n",
		"config schema:\n  {\n    \"type\": [\n      \"object\",\n      \"string\"\n    ]\n  }\n",
	} {
		assert.Contains(t, r.stdout, want)
	}
	assert.Regexp(t, `(?m)^capabilities: artifact, clock, (log, )?random$`, r.stdout)

	r = wasmreg(t, "", "inspect", "--json", hostFixture("echo.wasm"))
	require.Equal(t, 0, r.status, r.stderr)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	assert.Equal(t, "echo", got["name"])
	assert.Equal(t, "1.0.0", got["version"])
	assert.InDelta(t, 1, got["abi_version"], 0)
	assert.InDelta(t, 324, got["size"], 0)
	assert.Regexp(t, `^[0-9a-f]{64}$`, got["sha256"])
	assert.Equal(t, []any{"wasmreg_abi_version", "wasmreg_build", "wasmreg_info", "wasmreg_predict"}, got["exports"])
	assert.Nil(t, got["config_schema"])

	// Flags after the file, and a name looked up in --dir.
	r = wasmreg(t, "", "inspect", "TestGuest@1.2.3", "--dir", hostFixture(""), "--json")
	require.Equal(t, 0, r.status, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	assert.Equal(t, digest, got["sha256"])

	r = wasmreg(t, "", "inspect", hostFixture("missing_export.wasm"))
	assertFails(t, r, 1, "function wasmreg_predict (len: i32) -> i32 is not exported")
}

// TestVersions checks name resolution in a directory holding several
// versions of one factory: a bare name is the highest version.
func TestVersions(t *testing.T) {
	t.Parallel()
	wasm, err := os.ReadFile(hostFixture("echo.wasm"))
	require.NoError(t, err)
	dir := t.TempDir()
	for _, v := range []string{"0.9.0", "1.1.0", "1.0.0", "1.1.0-rc.1"} {
		// Same length as "1.0.0" keeps the metadata's length; pre-releases
		// get a shorter description to make room.
		patched := bytes.Replace(wasm, []byte(`"version":"1.0.0"`), []byte(`"version":"`+v+`"`), 1)
		if extra := len(v) - len("1.0.0"); extra > 0 {
			patched = bytes.Replace(patched, []byte("answers with its config"), []byte("answers with its config"[extra:]), 1)
		}
		require.Len(t, patched, len(wasm))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "echo-"+v+".wasm"), patched, 0o600))
	}
	r := wasmreg(t, "", "list", "--dir", dir)
	require.Equal(t, 0, r.status, r.stderr)
	assert.Regexp(t, `^NAME.*\necho\s+0\.9\.0.*\necho\s+1\.0\.0.*\necho\s+1\.1\.0-rc\.1.*\necho\s+1\.1\.0.*\n$`, r.stdout)

	for name, want := range map[string]string{"echo": "1.1.0", "Echo@1.0.0": "1.0.0", "echo@1.1.0-rc.1": "1.1.0-rc.1"} {
		r := wasmreg(t, "", "inspect", name, "--json", "--dir", dir)
		require.Equal(t, 0, r.status, r.stderr)
		var got struct{ Version string }
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		assert.Equal(t, want, got.Version, name)
	}
	r = wasmreg(t, "", "run", "echo@2.0.0", "--dir", dir)
	assertFails(t, r, 1, `factory "echo@2.0.0" not found in `+dir+" (found: echo@0.9.0, echo@1.0.0, echo@1.1.0-rc.1, echo@1.1.0)")
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		file   string
		status int
		want   []string // the lines of standard output
	}{
		{"missing export", hostFixture("missing_export.wasm"), 1, []string{
			hostFixture("missing_export.wasm") + ": does not speak wasmreg ABI v1 (1 problem):",
			"  ✗ error: host: missing or mistyped export: function wasmreg_predict (len: i32) -> i32 is not exported",
		}},
		{"unknown import", hostFixture("unknown_import.wasm"), 1, []string{
			hostFixture("unknown_import.wasm") + ": does not speak wasmreg ABI v1 (1 problem):",
			"  ✗ error: host: unknown import: wasmreg.frobnicate is not part of ABI v1",
		}},
		{"every problem", filepath.Join("testdata", "many_problems.wasm"), 1, []string{
			filepath.Join("testdata", "many_problems.wasm") + ": does not speak wasmreg ABI v1 (7 problems):",
			`  ✗ error: host: missing or mistyped export: memory "memory" is not exported`,
			"  ✗ error: host: missing or mistyped export: function wasmreg_build is exported as () -> (i32); ABI v1 declares wasmreg_build (len: i32) -> i32 (docs/ABI.md §2)",
			"  ✗ error: host: missing or mistyped export: function wasmreg_predict (len: i32) -> i32 is not exported",
			"  ✗ error: host: unknown import: wasmreg.frobnicate is not part of ABI v1",
			"  ✗ error: host: mistyped import: wasmreg.output is imported as (i32) -> (); ABI v1 declares output (ptr: i32, len: i32) -> () (docs/ABI.md §4)",
			`  ✗ error: host: unknown import: env.abort: module "env" is not provided (only "wasmreg" and "wasi_snapshot_preview1" are)`,
			// and its metadata, read in spite of them
			`  ✗ error: host: bad metadata: wasmreg_info: it is empty; it must write one JSON object such as {"name": "mlp", "version": "1.0.0"}`,
		}},
		{"ok with grants", hostFixture("guest.wasm"), 0, []string{
			"ok: testguest@1.2.3 speaks wasmreg ABI v1 (" + hostFixture("guest.wasm") + ")",
			"  needs grants: artifact, clock, random (wasmreg run --grant artifact=NAME=FILE --grant clock --grant random)",
		}},
		{"ok with warnings", filepath.Join("testdata", "unused_capability.wasm"), 0, []string{
			"ok: unused@0.1.0 speaks wasmreg ABI v1 (" + filepath.Join("testdata", "unused_capability.wasm") + ")",
			"  needs grants: random (wasmreg run --grant random)",
			`  warning: metadata lists capability "random" but the module imports none of its functions; hosts must still grant it`,
			"  warning: exports _start, which wasmreg never calls: build a reactor (Go: -buildmode=c-shared; C: -mexec-model=reactor)",
		}},
		{"config_schema refused", filepath.Join("testdata", "bad_schema.wasm"), 1, []string{
			filepath.Join("testdata", "bad_schema.wasm") + ": does not speak wasmreg ABI v1 (1 problem):",
			`  ✗ error: host: bad metadata: wasmreg_info: field "config_schema" is not a schema the host accepts: ` +
				`not valid against its draft's metaschema: /properties/layers/type: value must be one of 'array', 'boolean', 'integer', 'null', 'number', 'object', 'string'; ` +
				`/properties/layers/type: got string, want array`,
		}},
		{"not wasm", "main.go", 1, []string{
			"main.go: does not speak wasmreg ABI v1 (1 problem):",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := wasmreg(t, "", "validate", tc.file)
			assert.Equal(t, tc.status, r.status, r.stderr)
			got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if tc.name == "not wasm" {
				got = got[:1]
			}
			assert.Equal(t, tc.want, got)
			if tc.status != 0 {
				assert.Equal(t, []string{"wasmreg: 1 of 1 modules failed validation"}, r.stderrLines())
			}
		})
	}
}

// TestDemo runs the built-in default: the digits MLP on held-out digits.
func TestDemo(t *testing.T) {
	t.Parallel()
	// The binary carries everything: run it away from the repository.
	r := wasmregIn(t, t.TempDir(), "", "run")
	if r.status != 0 && strings.Contains(r.stderr, "not built yet") {
		t.Skipf("demo assets missing: %s", strings.TrimSpace(r.stderr))
	}
	require.Equal(t, 0, r.status, r.stderr)
	assert.Empty(t, r.stderr)
	rows := regexp.MustCompile(`(?m)^(\d+)\s+(\d)\s+(\d)\s+\d+\.\d%  ([✓✗])$`).FindAllStringSubmatch(r.stdout, -1)
	require.Len(t, rows, 10, r.stdout)
	correct := 0
	for i, row := range rows {
		assert.Equal(t, strconv.Itoa(i+1), row[1])
		if row[2] == row[3] {
			correct++
			assert.Equal(t, "✓", row[4])
		} else {
			assert.Equal(t, "✗", row[4])
		}
	}
	assert.Contains(t, r.stdout, fmt.Sprintf("accuracy on these 10: %d/10 (%d%%)", correct, correct*10))
	// The whole held-out split: the figure examples/digits states (0.9722).
	assert.Contains(t, r.stdout, "accuracy on all 360 held-out digits: 350/360 (97.2%)")
	// An untrained network would get about one in ten.
	assert.GreaterOrEqual(t, correct, 6, "a trained model gets most held-out digits right:\n%s", r.stdout)
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"help", "list"}, {"inspect", "-h"}, {"validate", "x.wasm", "--help"}} {
		r := wasmreg(t, "", args...)
		assert.Equal(t, 0, r.status, "%q: %s", args, r.stderr)
		assert.Contains(t, r.stdout, "Examples:", "%q", args)
	}
}

func TestLockFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyFile := func(from, to string) {
		b, err := os.ReadFile(hostFixture(from))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, to), b, 0o644))
	}
	copyFile("echo.wasm", "echo.wasm")
	r := wasmreg(t, "", "lock", "--dir", dir)
	require.Equal(t, 0, r.status, r.stderr)
	assert.Contains(t, r.stdout, "locked 1 module(s)")

	r = wasmreg(t, "x\n", "run", "echo", "--dir", dir)
	require.Equal(t, 0, r.status, r.stderr)
	assert.Equal(t, "{}\n", r.stdout)

	// A changed module is refused, and named, unless the user says otherwise.
	copyFile("guest.wasm", "echo.wasm")
	r = wasmreg(t, "n\n", "run", "testguest", "--dir", dir, "--grant", "clock", "--grant", "random", "--grant", "artifact=w=main.go")
	assert.NotEqual(t, 0, r.status)
	assert.Contains(t, r.stderr, "echo.wasm changed: its sha256 is")
	r = wasmreg(t, "n\n", "run", "testguest", "--dir", dir, "--allow-unlocked", "--grant", "clock", "--grant", "random", "--grant", "artifact=w=main.go")
	assert.Equal(t, 0, r.status, r.stderr)

	// An unlisted module is refused too.
	copyFile("clock.wasm", "clock.wasm")
	r = wasmreg(t, "", "list", "--dir", dir)
	assert.Contains(t, r.stderr, "clock.wasm is not in wasmreg.lock")
	assert.NotContains(t, r.stdout, "clockuser")
}

// TestBench benchmarks a factory briefly: a report of both phases, and a
// non-zero exit status when predictions fail.
func TestBench(t *testing.T) {
	t.Parallel()
	requests := filepath.Join(t.TempDir(), "requests.txt")
	require.NoError(t, os.WriteFile(requests, []byte("first\n\nsecond\r\nthird"), 0o600))
	// A phase's row: name, time, count, errors, throughput, p50, p90, p99, max.
	row := func(phase, count, errors string) *regexp.Regexp {
		const latency = `\d+(\.\d+)?(ns|µs|ms|s)`
		return regexp.MustCompile(`(?m)^` + phase + `\s+` + latency + `\s+` + count + `\s+` + errors + `\s+\d+(\.\d+)?/s` +
			`(\s+(` + latency + `|-)){4}$`)
	}

	t.Run("echo", func(t *testing.T) {
		t.Parallel()
		r := wasmreg(t, "", "bench", hostFixture("echo.wasm"), "--duration", "400ms", "--concurrency", "2", "--input", requests)
		require.Equal(t, 0, r.status, r.stderr)
		assert.Empty(t, r.stderr, "no progress line when standard error is not a terminal")
		assert.Regexp(t, `(?m)^factory: +echo@1\.0\.0, sha256 [0-9a-f]{12}… \(`, r.stdout)
		assert.Contains(t, r.stdout, "concurrency 2, GOMAXPROCS ")
		assert.Contains(t, r.stdout, "0.2s building then 0.2s predicting, 3 requests in turn")
		assert.Regexp(t, `(?m)^PHASE\s+TIME\s+COUNT\s+ERRORS\s+THROUGHPUT\s+P50\s+P90\s+P99\s+MAX$`, r.stdout)
		assert.Regexp(t, row("builds", `[1-9]\d*`, "0"), r.stdout)
		assert.Regexp(t, row("predictions", `[1-9]\d*`, "0"), r.stdout)
		assert.Less(t, r.elapsed, 20*time.Second)
	})
	t.Run("help", func(t *testing.T) {
		t.Parallel()
		r := wasmreg(t, "", "bench", "--help")
		require.Equal(t, 0, r.status, r.stderr)
		assert.Contains(t, r.stdout, "Examples:")
		assert.Contains(t, r.stdout, "--concurrency")
	})
	t.Run("failing config stops at the first build", func(t *testing.T) {
		t.Parallel()
		r := wasmreg(t, "[1,2]\n", "bench", factory("scale.wasm"), "--config", `{"scale":2}`, "--duration", "20s")
		assertFails(t, r, 1, `bench stopped at the first build, before the run: build scale@1.0.0: `)
		// The host refuses it against the factory's config_schema, before
		// the factory runs.
		assert.Contains(t, r.stderr, `the config breaks config_schema: (root): missing property 'factor'`, "the build's own error")
		assert.Less(t, r.elapsed, 10*time.Second, "not the whole --duration")
		assert.Empty(t, r.stdout, "no report of a run that did not happen")
	})
	t.Run("standard input from /dev/null", func(t *testing.T) {
		t.Parallel()
		devNull, err := os.Open(os.DevNull)
		require.NoError(t, err)
		defer devNull.Close()
		cmd := exec.Command(binary, "bench", hostFixture("echo.wasm"), "--duration", "1s")
		cmd.Stdin = devNull
		out, err := cmd.CombinedOutput()
		require.Error(t, err)
		assert.Contains(t, string(out), "standard input has no requests")
		assert.NotContains(t, string(out), "terminal", "/dev/null is not a terminal")
	})
	t.Run("trapping requests", func(t *testing.T) {
		t.Parallel()
		r := wasmreg(t, "t\n", "bench", hostFixture("guest.wasm"), "--duration", "400ms", "--concurrency", "2",
			"--grant", "clock", "--grant", "random", "--grant", "artifact=w=main.go")
		assert.Equal(t, 1, r.status, r.stderr)
		assert.Regexp(t, row("builds", `[1-9]\d*`, "0"), r.stdout)
		assert.Regexp(t, row("predictions", "0", `[1-9]\d*`), r.stdout)
		m := regexp.MustCompile(`(?m)^predictions\s+\S+\s+0\s+(\d+)\s`).FindStringSubmatch(r.stdout)
		require.NotNil(t, m, r.stdout)
		assert.Contains(t, r.stdout, `first prediction error: host: factory "testguest@1.2.3" export wasmreg_predict: wasm error: unreachable`)
		assert.Regexp(t, `(?m)^models built again because a failure closed them: [1-9]\d*$`, r.stdout)
		assert.Equal(t, []string{"wasmreg: all " + m[1] + " predictions failed"}, r.stderrLines())
	})
}

// TestRunHostileSuite runs every module of host/testdata/hostile: each exits
// non-zero within its time limit, with one error line naming the cause, and
// never with a Go panic, but for those whose harm is only what they say,
// which run; none writes a raw control, C1 or bidi character to standard
// error, nor to standard output but the one whose response it is.
func TestRunHostileSuite(t *testing.T) {
	t.Parallel()
	weights := weightsFile(t, "w")
	paths, err := filepath.Glob(hostFixture(filepath.Join("hostile", "*.wasm")))
	require.NoError(t, err)
	compile, err := filepath.Glob(hostFixture(filepath.Join("hostile", "compile", "*.wasm")))
	require.NoError(t, err)
	paths = append(paths, compile...)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			r := wasmreg(t, "hostile\n", "run", path, "--timeout", "1s", "--memory-limit", "16MiB",
				"--grant", "clock", "--grant", "random", "--grant", "artifact=weights="+weights)
			assertSafe(t, "stderr", r.stderr)
			if filepath.Base(path) != "escape_response.wasm" {
				assertSafe(t, "stdout", r.stdout)
			}
			switch filepath.Base(path) {
			case "log_spam.wasm", "table_grow_bomb.wasm":
				assert.Equal(t, 0, r.status, "the limit is enforced quietly, not an error: %s", r.stderr)
				return
			case "escape_response.wasm", "escape_export_names.wasm", "escape_description.wasm", "escape_log.wasm":
				assert.Equal(t, 0, r.status, "what a module says is escaped, not an error: %s", r.stderr)
				return
			}
			assert.NotEqual(t, 0, r.status)
			assert.Less(t, r.elapsed, 15*time.Second)
			assert.NotContains(t, r.stderr, "panic")
			assert.NotContains(t, r.stderr, "goroutine ")
			lines := r.stderrLines()
			require.NotEmpty(t, lines)
			last := lines[len(lines)-1]
			assert.Regexp(t, `^wasmreg: |^line 1: `, lines[0])
			assert.True(t, strings.HasPrefix(last, "wasmreg: "), "ends with one error line: %q", r.stderr)
		})
	}
}
