package main_test

// Class 6 of the sandbox issue: what a module chose to say (its names,
// metadata, errors, log lines, responses) never reaches a person's
// terminal or a log raw.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/internal/safetext"
)

// escapeFixtures are the host's hostile modules that say hostile things.
var escapeFixtures = []string{"escape_response", "escape_export_names", "escape_import_names",
	"escape_description", "escape_error", "escape_log"}

// escapeResponse is what escape_response answers, exactly.
const escapeResponse = "\x1b[2J\x1b]0;pwned\x07\x1b[31mred\u009b2J\x9b\u202eevil\u2066x\x7f"

func escapeFixture(name string) string { return hostFixture(filepath.Join("hostile", name+".wasm")) }

// assertSafe fails unless every line of s is free of what safetext escapes:
// C0 controls but tab, DEL, C1 and bidi controls, U+2028, U+2029, invalid
// UTF-8.
func assertSafe(t *testing.T, what, s string) {
	t.Helper()
	for line := range strings.SplitSeq(s, "\n") {
		if i := safetext.Index(line); i >= 0 {
			t.Errorf("%s: raw %q at byte %d of %q", what, line[i:min(i+4, len(line))], i, line)
		}
	}
}

// TestEscapedEverywhere runs every command that shows a module on each
// escape_* module, and on a directory of them whose file names are hostile
// too, and checks that nothing raw reaches standard output or standard
// error, with text and JSON logs at every level.
func TestEscapedEverywhere(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range escapeFixtures {
		b, err := os.ReadFile(escapeFixture(name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".wasm"), b, 0o600))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "\x1b[2J\u202e\x9b.wasm"), []byte("not wasm"), 0o600))

	var runs [][]string
	for _, name := range escapeFixtures {
		path := escapeFixture(name)
		runs = append(runs,
			[]string{"inspect", path}, []string{"inspect", path, "--json"}, []string{"validate", path},
			[]string{"run", path, "--log-level", "debug"},
			[]string{"run", path, "--log-level", "debug", "--log-format", "json"},
			[]string{"bench", path, "--duration", "100ms", "--concurrency", "1", "--log-level", "debug"})
	}
	runs = append(runs,
		[]string{"list", "--dir", dir}, []string{"list", "--dir", dir, "--log-format", "json", "--log-level", "debug"},
		[]string{"lock", "--dir", t.TempDir()}, // an empty directory: nothing to say, but the path
		[]string{"run", "hostile-escape-error", "--dir", dir},
		[]string{"inspect", "nothing", "--dir", dir})
	for _, args := range runs {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			t.Parallel()
			r := wasmreg(t, "a request\n", args...)
			assertSafe(t, "stderr", r.stderr)
			if !(args[0] == "run" && strings.Contains(args[1], "escape_response")) {
				assertSafe(t, "stdout", r.stdout)
			}
			if slices := strings.Join(args, " "); strings.Contains(slices, "json") && args[0] != "inspect" {
				for line := range strings.SplitSeq(strings.TrimSpace(r.stderr), "\n") {
					var rec map[string]any
					if json.Unmarshal([]byte(line), &rec) != nil {
						continue // a "wasmreg: ..." line
					}
					for k, v := range rec {
						if s, ok := v.(string); ok {
							assertSafe(t, "decoded log field "+k, s)
						}
					}
				}
			}
		})
	}

	t.Run("what is escaped", func(t *testing.T) {
		t.Parallel()
		r := wasmreg(t, "", "inspect", escapeFixture("escape_export_names"))
		require.Equal(t, 0, r.status, r.stderr)
		assert.Contains(t, r.stdout, `  \x1b[2J\x1b]0;pwned\x07`+"\n")
		assert.Contains(t, r.stdout, `  \u009b31m\u202ecolour`+"\n")
		assert.Contains(t, r.stdout, `  tab\x09name\u2066\u2028`+"\n", "a tab in a name is escaped too")

		r = wasmreg(t, "", "inspect", escapeFixture("escape_description"), "--json")
		require.Equal(t, 0, r.status, r.stderr)
		var in struct {
			Description  string          `json:"description"`
			ConfigSchema json.RawMessage `json:"config_schema"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &in))
		assert.Equal(t, "\x1b[2J\x1b]0;pwned\x07\u009b31m\u202eevil\u2028x\u0085\u202e", in.Description,
			"--json escapes as JSON does: the value is exact")
		assert.Contains(t, r.stdout, `\u001b[2J\u001b]0;pwned\u0007\u009b31m\u202eevil\u2028x\u0085\u202e`)

		r = wasmreg(t, "", "list", "--dir", dir)
		assert.Contains(t, r.stdout, `\x1b[2J\x1b]0;pwned\x07\u009b31m\u202eevil\u2028x\u0085\u202e`)
		assert.Contains(t, r.stderr, `skipping `+filepath.Join(dir, `\x1b[2J\u202e\x9b.wasm`)+`: `)

		r = wasmreg(t, "x\n", "run", escapeFixture("escape_error"))
		assert.Contains(t, r.stderr,
			`line 1: host: factory "hostile-escape-error@1.0.0" export wasmreg_predict returned code 3: bad \x1b[2J\x1b]0;pwned\x07 \u009b31m \u202e \xff\x0d\x0asecond line`)

		r = wasmreg(t, "", "validate", escapeFixture("escape_import_names"))
		assert.Contains(t, r.stdout, `  ✗ error: host: unknown import: \x1b[2J\u202e.\u009bfield: module "\x1b[2J\u202e" is not provided`)
		assert.Contains(t, r.stdout, `  ✗ error: host: unknown import: table \x1b[31m.\u2066table: a factory may import only functions`)
	})
}

// TestRunResponseExactToPipe checks that a response written to a pipe is
// the guest's bytes, exactly: only a terminal gets escapes.
func TestRunResponseExactToPipe(t *testing.T) {
	t.Parallel()
	r := wasmreg(t, "one\ntwo\n", "run", escapeFixture("escape_response"))
	require.Equal(t, 0, r.status, r.stderr)
	assert.Equal(t, escapeResponse+"\n"+escapeResponse+"\n", r.stdout)
	assert.Empty(t, r.stderr)
}
