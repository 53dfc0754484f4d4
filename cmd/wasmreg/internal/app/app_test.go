package app

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/wasmreg/wasmreg/host"
)

// hostTestdata holds the host's WAT fixtures; see host/testdata/*.wat.
var hostTestdata = filepath.Join("..", "..", "..", "..", "host", "testdata")

func fixture(name string) string { return filepath.Join(hostTestdata, name) }

// runMain runs the CLI in-process without the compilation cache.
//
// Tests that call it do not run in parallel: urfave/cli v2 applies its
// package-level help and version flags, and its help command, to every App
// it runs, which is a data race between Apps in one process (one process
// runs one App in real use). The end-to-end tests in cmd/wasmreg run the
// binary in parallel instead.
func runMain(t *testing.T, stdin string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errb bytes.Buffer
	status = Main(append([]string{"wasmreg", "--no-cache"}, args...), strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), status
}

func TestHelpShowsExamples(t *testing.T) {
	for _, cmd := range []string{"", "run", "list", "inspect", "validate", "serve"} {
		t.Run("wasmreg "+cmd, func(t *testing.T) {
			args := strings.Fields(cmd + " --help")
			stdout, stderr, status := runMain(t, "", args...)
			require.Equal(t, ExitOK, status, stderr)
			assert.Contains(t, stdout, "Examples:")
			assert.Contains(t, stdout, strings.TrimSpace("wasmreg "+cmd))
			if cmd != "" {
				assert.Contains(t, stdout, "--dir", "each command's help mentions the global options")
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	echo := fixture("echo.wasm")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown global flag", []string{"--bogus", "list"}, "unknown flag --bogus (see 'wasmreg --help')"},
		{"unknown run flag", []string{"run", echo, "--bogus"}, "unknown flag --bogus (see 'wasmreg run --help')"},
		{"misspelt run flag", []string{"run", echo, "--confg", "{}"}, "unknown flag --confg: did you mean --config? (see 'wasmreg run --help')"},
		{"misspelt global flag after the command", []string{"run", echo, "--dri", "x"}, "unknown flag --dri: did you mean --dir?"},
		{"misspelt global flag", []string{"--log-levle", "debug", "list"}, "unknown flag --log-levle: did you mean --log-level? (see 'wasmreg --help')"},
		{"ambiguous prefix", []string{"run", echo, "--memory", "1"}, "did you mean --memory-budget or --memory-limit?"},
		{"single dash", []string{"run", echo, "-confg", "{}"}, "unknown flag --confg: did you mean --config?"},
		{"unknown list flag", []string{"list", "--bogus"}, "see 'wasmreg list --help'"},
		{"inspect without file", []string{"inspect"}, "inspect takes one FILE.wasm argument, got 0"},
		{"inspect two files", []string{"inspect", echo, echo}, "got 2"},
		{"validate without file", []string{"validate"}, "validate needs a FILE.wasm argument"},
		{"run two factories", []string{"run", echo, "more"}, "run takes one FACTORY argument, got 2"},
		{"list with argument", []string{"list", "somewhere"}, "use --dir DIR"},
		{"dangling flag", []string{"run", echo, "--config"}, "flag --config needs a value"},
		{"bad memory limit", []string{"run", echo, "--memory-limit", "100000"}, "invalid option: --memory-limit: 100000 bytes is not a multiple of 64 KiB"},
		{"bad memory limit text", []string{"validate", echo, "--memory-limit", "lots"}, "--memory-limit: \"lots\" is not a size"},
		{"bad memory budget", []string{"run", echo, "--memory-budget", "1KiB"}, "invalid option: --memory-budget: 1024 bytes is less than 64 KiB"},
		{"bad memory budget text", []string{"validate", echo, "--memory-budget", "lots"}, "--memory-budget: \"lots\" is not a size"},
		{"bad timeout", []string{"run", echo, "--timeout", "soon"}, "--timeout soon: not a duration; write a number and a unit, such as 30s"},
		{"timeout without unit", []string{"run", echo, "--timeout", "5"}, "--timeout 5: a duration needs a unit, such as 5s or 5ms"},
		{"timeout without unit after =", []string{"validate", echo, "--timeout=1.5"}, "--timeout 1.5: a duration needs a unit, such as 1.5s"},
		{"bad integer", []string{"bench", echo, "--concurrency", "two"}, "--concurrency two: not an integer (see 'wasmreg bench --help')"},
		{"negative timeout", []string{"run", echo, "--timeout=-1s"}, "invalid option: --timeout: negative duration"},
		{"bad log level", []string{"--log-level", "loud", "list"}, `--log-level: "loud" is not one of debug, info, warn, error`},
		{"bad log format", []string{"list", "--log-format", "xml"}, `--log-format: "xml" is not one of text, json`},
		{"bad grant", []string{"run", echo, "--grant", "network"}, `--grant network: unknown capability "network"`},
		{"bad sha256", []string{"run", echo, "--sha256", "abc"}, `--sha256: "abc" is not a sha256 digest`},
		{"bad config", []string{"run", echo, "--config", "{a"}, "--config is not valid JSON: invalid character 'a' looking for beginning of object key string (at byte 2)"},
		{"truncated config", []string{"run", echo, "--config", `{"a":`}, "--config is not valid JSON"},
		{"empty config", []string{"run", echo, "--config", " "}, "--config is empty"},
		{"config without factory", []string{"run", "--config", "{}"}, "--config needs a FACTORY argument"},
		{"grant without factory", []string{"run", "--grant", "clock"}, "--grant needs a FACTORY argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, status := runMain(t, "", tc.args...)
			assert.Equal(t, ExitUsage, status, "stderr: %s", stderr)
			assert.Empty(t, stdout, "usage errors write nothing to standard output")
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			assert.True(t, strings.HasPrefix(stderr, "wasmreg: "), stderr)
			assert.Contains(t, stderr, tc.want)
		})
	}
}

// TestLimitFlagErrors gives every limit flag bad values, as text that is
// not a size or as a value the host's option refuses, to every command
// that reads the flags: each exits with the usage status, before reading
// anything, with one line that names the flag.
func TestLimitFlagErrors(t *testing.T) {
	echo := fixture("echo.wasm")
	dir := t.TempDir()
	b, err := os.ReadFile(echo)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "echo.wasm"), b, 0o644))
	commands := [][]string{
		{"run", echo}, {"run", "echo", "--dir", dir}, {"run"}, {"bench", echo, "--duration", "1ms"},
		{"inspect", echo}, {"inspect", "echo", "--dir", dir}, {"validate", echo},
		{"list", "--dir", dir}, {"lock", "--dir", dir},
	}
	bad := []struct {
		flag, value string
		want        string // besides the flag's name
	}{
		{flagMemoryLimit, "lots", "is not a size"},
		{flagMemoryLimit, "100000", "not a multiple of 64 KiB"},
		{flagMemoryLimit, "8GiB", "between 64 KiB and 4 GiB"},
		{flagMemoryLimit, "0", ""},
		{flagBudget, "lots", "is not a size"},
		{flagBudget, "1KiB", "less than 64 KiB"},
		{flagTimeout, "-1s", "negative duration"},
		{flagCompileTime, "-1s", "negative duration"},
		{flagMaxInst, "0", "not positive"},
		{flagCompiles, "-2", "not positive"},
		{flagStackLimit, "lots", "is not a size"},
		{flagStackLimit, "1KiB", "between 64 KiB and"},
		{flagStackLimit, "8GiB", "8GiB is too large"},
		{flagTableLimit, "0", "not between 1 and"},
		{flagTableLimit, "300000000", "not between 1 and"},
		{flagTableLimit, "4294967296", "too large"},
		{flagInputLimit, "0", ""},
		{flagInputLimit, "2GiB", "not between 1 and"},
		{flagInputLimit, "lots", "is not a size"},
		{flagOutputLimit, "0", "not positive"},
		{flagModuleLimit, "0", "not positive"},
		{flagModuleLimit, "lots", "is not a size"},
		{flagLogLine, "8", "at least 16"},
		{flagLogLine, "lots", "is not a size"},
		{flagLogLines, "0", "at least 1"},
	}
	for _, tc := range bad {
		for _, cmd := range commands {
			args := append(slices.Clone(cmd), "--"+tc.flag+"="+tc.value)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				stdout, stderr, status := runMain(t, "x\n", args...)
				assert.Equal(t, ExitUsage, status, "stderr: %s", stderr)
				assert.Empty(t, stdout)
				require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
				assert.Contains(t, stderr, "--"+tc.flag)
				assert.Contains(t, stderr, tc.want)
				assert.NotContains(t, stderr, "host.With", "the host's option is worded as the flag")
				assert.NotRegexp(t, `invalid option: With`, stderr, "the host's option is worded as the flag")
			})
		}
	}
	_, err = os.Stat(filepath.Join(dir, LockFile))
	assert.ErrorIs(t, err, os.ErrNotExist, "lock wrote nothing")
}

// TestRunFlagsAnywhere checks that no flag is silently ignored wherever it
// is typed: the echo factory answers with its config, so the config shows
// whether --config was taken.
func TestRunFlagsAnywhere(t *testing.T) {
	echo := fixture("echo.wasm")
	configFile := filepath.Join(t.TempDir(), "c.json")
	require.NoError(t, os.WriteFile(configFile, []byte(" {\"from\": \"file\"}\n"), 0o600))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"before", []string{"run", "--config", `{"a":1}`, echo}, `{"a":1}`},
		{"after", []string{"run", echo, "--config", `{"a":1}`}, `{"a":1}`},
		{"after with =", []string{"run", echo, `--config={"a":1}`}, `{"a":1}`},
		{"single dash", []string{"run", echo, "-config", `{"a":1}`}, `{"a":1}`},
		{"file after", []string{"run", echo, "--config", "@" + configFile}, `{"from": "file"}`},
		{"global flag after", []string{"run", "echo", "--dir", hostTestdata}, `{}`},
		{"global flag before", []string{"--dir", hostTestdata, "run", "ECHO@1.0.0"}, `{}`},
		{"double dash", []string{"run", "--config", `{"b":2}`, "--", echo}, `{"b":2}`},
		{"config is JSON but not an object", []string{"run", echo, "--config", `"s"`}, `"s"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, status := runMain(t, "request\n", tc.args...)
			require.Equal(t, ExitOK, status, "stderr: %s", stderr)
			assert.Equal(t, tc.want+"\n", stdout)
		})
	}
}

func TestRunInputFlag(t *testing.T) {
	in := filepath.Join(t.TempDir(), "requests.txt")
	require.NoError(t, os.WriteFile(in, []byte("w1\n\n  \nw2\r\nw3"), 0o600))
	stdout, stderr, status := runMain(t, "ignored\n", "run", fixture("guest.wasm"), "--input", in,
		"--grant", "clock", "--grant", "random", "--grant", "artifact=weights="+in, "--config", `"cfg"`)
	require.Equal(t, ExitOK, status, stderr)
	assert.Equal(t, "\"cfg\"w1\n\"cfg\"w2\n\"cfg\"w3\n", stdout, "CRLF and a last line without LF")

	_, stderr, status = runMain(t, "", "run", fixture("echo.wasm"), "--input", filepath.Join(t.TempDir(), "none.txt"))
	assert.Equal(t, ExitFailure, status)
	assert.Contains(t, stderr, "--input: open")
}

func TestRunGrantValueWithComma(t *testing.T) {
	w := filepath.Join(t.TempDir(), "a,b.bin") // one file: --grant values are not split at commas
	require.NoError(t, os.WriteFile(w, []byte("comma"), 0o600))
	stdout, stderr, status := runMain(t, "a\n", "run", fixture("guest.wasm"),
		"--grant", "clock", "--grant", "random", "--grant", "artifact=weights="+w)
	require.Equal(t, ExitOK, status, stderr)
	assert.Equal(t, "comma\n", stdout)
}

func TestRunByNameInDirEnv(t *testing.T) { // not parallel: it sets the environment
	t.Setenv("WASMREG_DIR", hostTestdata)
	t.Setenv("WASMREG_CACHE_DIR", t.TempDir())
	var out, errb bytes.Buffer
	status := Main([]string{"wasmreg", "run", "Echo", "--config", "[1]"}, strings.NewReader("r\n"), &out, &errb)
	require.Equal(t, ExitOK, status, errb.String())
	assert.Equal(t, "[1]\n", out.String())
	assert.Contains(t, errb.String(), "warning: skipping", "broken modules of the directory are reported")
	entries, err := os.ReadDir(os.Getenv("WASMREG_CACHE_DIR"))
	require.NoError(t, err)
	assert.NotEmpty(t, entries, "the compilation cache is used")
}

func TestRunNotGranted(t *testing.T) {
	_, stderr, status := runMain(t, "", "run", fixture("guest.wasm"), "--grant", "clock")
	assert.Equal(t, ExitFailure, status)
	assert.Equal(t, "wasmreg: load "+fixture("guest.wasm")+": testguest@1.2.3 needs capabilities that were not granted: "+
		"artifact, random (add --grant artifact=NAME=FILE --grant random)\n", stderr)
}

func TestRunRebuildsAfterTrap(t *testing.T) {
	w := filepath.Join(t.TempDir(), "w.bin")
	require.NoError(t, os.WriteFile(w, []byte("W"), 0o600))
	stdout, stderr, status := runMain(t, "n\nn\nt\nn\ne\nn\n", "run", fixture("guest.wasm"),
		"--grant", "clock", "--grant", "random", "--grant", "artifact=weights="+w)
	assert.Equal(t, ExitFailure, status)
	// n counts per instance: the trap on line 3 closes the model, which is
	// built again; the guest error on line 5 does not.
	assert.Equal(t, "\x01\x00\x00\x00\n\x02\x00\x00\x00\n\x01\x00\x00\x00\n\x02\x00\x00\x00\n", stdout)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	require.Len(t, lines, 4, stderr)
	assert.Equal(t, `line 3: host: factory "testguest@1.2.3" export wasmreg_predict: wasm error: unreachable`, lines[0])
	assert.Contains(t, lines[1], "warning: building the model again for line 4")
	assert.Equal(t, `line 5: host: factory "testguest@1.2.3" export wasmreg_predict returned code 2: bad request`, lines[2])
	assert.Equal(t, "wasmreg: 2 of 6 requests failed", lines[3])
}

func TestRunLogs(t *testing.T) {
	w := filepath.Join(t.TempDir(), "w.bin")
	require.NoError(t, os.WriteFile(w, []byte("W"), 0o600))
	grants := []string{"--grant", "clock", "--grant", "random", "--grant", "artifact=weights=" + w}

	// The guest logs "initialized" at debug level from _initialize.
	_, stderr, status := runMain(t, "", append([]string{"run", fixture("guest.wasm")}, grants...)...)
	require.Equal(t, ExitOK, status, stderr)
	assert.Empty(t, stderr, "the default level, warn, keeps guest logs quiet")

	_, stderr, status = runMain(t, "", append([]string{"run", fixture("guest.wasm"), "--log-level", "debug", "--log-format", "json"}, grants...)...)
	require.Equal(t, ExitOK, status, stderr)
	require.NotEmpty(t, stderr)
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "a JSON log line: %s", line)
	}
	assert.Contains(t, stderr, `"msg":"initialized"`)
	assert.Contains(t, stderr, `"level":"DEBUG"`)

	_, stderr, status = runMain(t, "", append([]string{"--log-level", "DEBUG", "run", fixture("guest.wasm")}, grants...)...)
	require.Equal(t, ExitOK, status, stderr)
	assert.Contains(t, stderr, "level=DEBUG msg=initialized")
}

func TestRunBuildFails(t *testing.T) {
	w := filepath.Join(t.TempDir(), "w.bin")
	require.NoError(t, os.WriteFile(w, []byte("W"), 0o600))
	stdout, stderr, status := runMain(t, "never read\n", "run", fixture("guest.wasm"), "--config", `"Fail"`,
		"--grant", "clock", "--grant", "random", "--grant", "artifact=weights="+w)
	assert.Equal(t, ExitFailure, status)
	assert.Empty(t, stdout)
	assert.Equal(t, "wasmreg: build testguest@1.2.3: host: factory \"testguest@1.2.3\" export wasmreg_build returned code 1: bad config\n", stderr)
}

func TestRunResponseSpanningLines(t *testing.T) {
	tests := []struct{ config, want string }{
		{"{\n  \"a\": [1,\n 2]\n}", `{"a":[1,2]}`},
		{"\"multi\\nline\"", `"multi\nline"`}, // already one line: JSON escapes
	}
	for _, tc := range tests {
		stdout, stderr, status := runMain(t, "r\n", "run", fixture("echo.wasm"), "--config", tc.config)
		require.Equal(t, ExitOK, status, stderr)
		assert.Equal(t, tc.want+"\n", stdout)
	}
}

func TestResponseLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"plain", "abc", "abc"},
		{"empty", "", ""},
		{"backslash without line break stays", `a\nb`, `a\nb`},
		{"json compacted", "{\n \"a\" : 1\n}", `{"a":1}`},
		{"json array", "[1,\r\n2]", `[1,2]`},
		{"text escaped", "a\nb\r\nc\\d", `a\nb\r\nc\\d`},
		{"invalid json escaped", "{\n", `{\n`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(responseLine([]byte(tc.in)))
			assert.Equal(t, tc.want, got)
			assert.NotContains(t, got, "\n")
		})
	}
}

func TestReadLine(t *testing.T) {
	t.Parallel()
	r := bufio.NewReaderSize(strings.NewReader("ab\ncd\r\n\n"+strings.Repeat("x", 40)+"\nlast"), 16)
	var got []string
	for {
		line, n, tooLong, err := readLine(r, 20)
		if n == 0 && err == io.EOF {
			break
		}
		switch {
		case tooLong:
			got = append(got, fmt.Sprintf("too long (%d bytes)", n))
		default:
			got = append(got, fmt.Sprintf("%q", line))
		}
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
	}
	assert.Equal(t, []string{`"ab"`, `"cd"`, `""`, "too long (41 bytes)", `"last"`}, got)
}

func TestProblems(t *testing.T) {
	t.Parallel()
	a, b := errors.New("host: first"), errors.New("host: second")
	ce := &host.CallError{Factory: "f@1.0.0", Export: "wasmreg_info", Code: 3, Kind: host.ErrGuest, Message: "no"}
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"single", a, []string{"host: first"}},
		{"module error", fmt.Errorf("load: %w", &host.ModuleError{Module: "sha256:x", Problems: []error{a, b}}), []string{"host: first", "host: second"}},
		{"a join is not a module error", errors.Join(a, b), []string{"host: first; host: second"}},
		{"two %w is one problem", fmt.Errorf("%w: where: %w", a, b), []string{"host: first: where: host: second"}},
		{"call error is one problem", fmt.Errorf("load: %w", ce), []string{`load: host: factory "f@1.0.0" export wasmreg_info returned code 3: no`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, problems(tc.err))
		})
	}
}

func TestReport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
		want   string
	}{
		{"nil", nil, ExitOK, ""},
		{"plain", errors.New("boom"), ExitFailure, "wasmreg: boom\n"},
		{"multi-line", errors.Join(errors.New("a"), errors.New("b")), ExitFailure, "wasmreg: a; b\n"},
		{"usage", usageErrorf("bad"), ExitUsage, "wasmreg: bad\n"},
		{"exit coder", cli.Exit("gone", 7), 7, "wasmreg: gone\n"},
		{"silent exit coder", cli.Exit("", 1), 1, ""},
		{"help topic", cli.Exit("No help topic for 'x'", 3), ExitUsage, "wasmreg: No help topic for 'x'\n"},
		{"host advice in flags", &host.CallError{Factory: "f@1.0.0", Export: "wasmreg_predict", Kind: host.ErrTimeout,
			Message: (&host.LimitError{Kind: host.ErrTimeout, Option: "WithCallTimeout", Detail: "slow"}).Error(),
			Limit:   &host.LimitError{Kind: host.ErrTimeout, Option: "WithCallTimeout", Detail: "slow"}},
			ExitFailure, "wasmreg: host: factory \"f@1.0.0\" export wasmreg_predict: slow (raise it with --timeout)\n"},
		{"invalid option in flags", fmt.Errorf("wasmreg: %w", &host.OptionError{Option: "WithMemoryLimit", Reason: "3 bytes is odd"}),
			ExitFailure, "wasmreg: wasmreg: host: invalid option: --memory-limit: 3 bytes is odd\n"},
		{"unknown option kept", &host.LimitError{Kind: host.ErrBusy, Option: "WithSomethingNew", Detail: "full"},
			ExitFailure, "wasmreg: full (raise it with host.WithSomethingNew)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			assert.Equal(t, tc.status, report(&b, tc.err))
			assert.Equal(t, tc.want, b.String())
		})
	}
}

func TestProgress(t *testing.T) {
	t.Parallel()
	var term bytes.Buffer
	p := newProgress(&term, 1000)
	now := p.start
	p.now = func() time.Time { return now }

	p.update(100, 10, 0)
	assert.Empty(t, term.String(), "nothing in the first second")

	now = now.Add(2 * time.Second)
	p.update(500, 49, 1)
	assert.Equal(t, "\r\x1b[K 50% [============            ] 49 answered, 1 failed, 25/s", term.String())

	term.Reset()
	now = now.Add(10 * time.Millisecond)
	p.update(600, 59, 1)
	assert.Empty(t, term.String(), "at most ten redraws a second")

	fmt.Fprintln(p.Writer(&term), "line 7: failed")
	assert.Equal(t, "\r\x1b[Kline 7: failed\n", term.String(), "messages erase the status line first")

	term.Reset()
	fmt.Fprintln(p.Writer(&term), "again")
	assert.Equal(t, "again\n", term.String(), "nothing to erase")

	term.Reset()
	now = now.Add(time.Second)
	p.update(1000, 99, 1)
	p.done()
	assert.True(t, strings.HasSuffix(term.String(), "\r\x1b[K"), "done erases the line: %q", term.String())
	term.Reset()
	now = now.Add(time.Hour)
	p.update(1000, 99, 1)
	assert.Empty(t, term.String(), "nothing after done")

	var nilProgress *progress
	nilProgress.update(1, 1, 1)
	nilProgress.done()
	assert.Equal(t, io.Writer(&term), nilProgress.Writer(&term))
	assert.False(t, isTerminal(&term))
}

func TestFormatSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[int]string{0: "0B", 1023: "1023B", 1024: "1.0KiB", 1536: "1.5KiB", 10 << 20: "10MiB", 3 << 30: "3.0GiB"} {
		assert.Equal(t, want, formatSize(in), "%d", in)
	}
}

// FuzzReorderArgs checks that reordering only moves arguments: it never
// drops, adds or changes one, except for keeping a single "--".
func FuzzReorderArgs(f *testing.F) {
	for _, seed := range []string{
		"run m.wasm --config {} --grant clock",
		"--dir d run -- -x --json",
		"inspect --json m.wasm",
		"validate a b --memory-limit 64MiB --timeout=1s",
		"run --bogus x -",
		"run --confg {} --timeout 5 --=x -\x1b",
	} {
		f.Add(seed)
	}
	a := New(nil, nil, nil)
	f.Fuzz(func(t *testing.T, s string) {
		args := append([]string{"wasmreg"}, strings.Fields(s)...)
		got, err := ReorderArgs(a, args)
		if err == nil {
			// Whatever it finds wrong is a usage error, never a panic.
			var ue usageError
			if cerr := CheckArgs(a, got, func(string) (string, bool) { return "", false }); cerr != nil && !errors.As(cerr, &ue) {
				t.Fatalf("CheckArgs(%q) = %v: not a usage error", got, cerr)
			}
		}
		if err != nil || slices.ContainsFunc(got, isHelpFlag) {
			return // help drops the positional arguments
		}
		want := slices.Clone(args)
		slices.Sort(want)
		have := slices.Clone(got)
		slices.Sort(have)
		if !slices.Equal(want, have) {
			t.Fatalf("ReorderArgs(%q) = %q: not a permutation", args, got)
		}
	})
}

// TestRunMemoryBudget checks that --memory-budget and its environment
// variable reach the host: an echo instance reserves its 64 KiB memory
// limit plus the per-instance overhead, more than a 1 MiB budget.
func TestRunMemoryBudget(t *testing.T) { // not parallel: it sets the environment
	for _, tc := range []struct {
		name string
		args []string
		env  string
	}{
		{"flag", []string{"--memory-budget", "1MiB"}, ""},
		{"environment", nil, "1MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("WASMREG_MEMORY_BUDGET", tc.env)
			}
			args := append([]string{"run", fixture("echo.wasm"), "--memory-limit", "64KiB"}, tc.args...)
			_, stderr, status := runMain(t, "", args...)
			assert.Equal(t, ExitFailure, status)
			assert.Contains(t, stderr, "more than the whole memory budget of 1 MiB")
			assert.Contains(t, stderr, "raise it with --memory-budget", "the host's advice names the flag")
		})
	}
	_, stderr, status := runMain(t, "r\n", "run", fixture("echo.wasm"), "--memory-limit", "64KiB", "--stack-limit", "64KiB", "--memory-budget", "2MiB")
	assert.Equal(t, ExitOK, status, stderr)
}

// TestRunInputLimit: run reads request lines up to --input-limit, not up
// to the default limit.
func TestRunInputLimit(t *testing.T) {
	line := strings.Repeat("x", 17<<20) + "\n"
	_, stderr, _ := runMain(t, line, "run", fixture("echo.wasm"))
	assert.Contains(t, stderr, "request is longer than 16777216 bytes, the input limit (--input-limit)")
	_, stderr, _ = runMain(t, line, "run", fixture("echo.wasm"), "--input-limit", "64MiB")
	assert.NotContains(t, stderr, "request is longer than", "a 17 MiB request fits a 64 MiB limit")
}

// TestPinnedByName looks a factory up by name in a locked directory with
// --sha256: the scan's host is pinned to the lock's digests and the one
// wanted, and so is the host that runs the module found.
func TestPinnedByName(t *testing.T) {
	dir := t.TempDir()
	echo, err := os.ReadFile(fixture("echo.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "echo.wasm"), echo, 0o644))
	_, stderr, status := runMain(t, "", "lock", "--dir", dir)
	require.Equal(t, ExitOK, status, stderr)
	digest := host.Digest(echo)

	stdout, stderr, status := runMain(t, "x\n", "run", "echo", "--dir", dir, "--sha256", digest)
	assert.Equal(t, ExitOK, status, stderr)
	assert.Equal(t, "{}\n", stdout)

	other := strings.Repeat("1", 64)
	_, stderr, status = runMain(t, "x\n", "run", "echo", "--dir", dir, "--sha256", other)
	assert.Equal(t, ExitFailure, status)
	assert.Contains(t, stderr, `factory "echo" with sha256 `+other+` not found in `+dir+` (found with that sha256: none; 1 other module passed over)`)

	// A module added after locking is refused by name and by path, before
	// it is read as WebAssembly: it is not even valid.
	junk := filepath.Join(dir, "junk.wasm")
	require.NoError(t, os.WriteFile(junk, []byte("junk"), 0o644))
	_, stderr, _ = runMain(t, "", "list", "--dir", dir)
	assert.Contains(t, stderr, "skipping "+junk+": junk.wasm is not in wasmreg.lock (sha256 "+host.Digest([]byte("junk"))+")")
	_, stderr, status = runMain(t, "x\n", "run", junk, "--sha256", host.Digest([]byte("junk")))
	assert.Equal(t, ExitFailure, status)
	assert.Contains(t, stderr, "wasmreg: refusing to load "+junk+": junk.wasm is not in wasmreg.lock")
}
