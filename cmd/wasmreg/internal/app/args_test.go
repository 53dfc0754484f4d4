package app

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckArgs(t *testing.T) {
	a := New(nil, nil, nil)
	tests := []struct {
		name string
		args string
		env  map[string]string
		want string // "" for no error
	}{
		{"fine", "run --config {} --timeout 5s m.wasm", nil, ""},
		{"fine global", "--dir d --log-level debug list", nil, ""},
		{"help", "run --help", nil, ""},
		{"version", "--version", nil, ""},
		{"unknown command is urfave's", "frobnicate --x", nil, ""},
		{"after -- is positional", "run --config {} -- --bogus", nil, ""},
		{"unknown", "run --bogus", nil, "unknown flag --bogus (see 'wasmreg run --help')"},
		{"another command's flag", "list --config {}", nil, "unknown flag --config: --config is a flag of run, bench, serve, not of 'wasmreg list' (see 'wasmreg list --help')"},
		{"a hidden flag is no hint", "pull --stack-limit=1 x", nil, ""},
		{"did you mean", "run --grnt clock", nil, "unknown flag --grnt: did you mean --grant?"},
		{"transposed", "run --cnofig {}", nil, "did you mean --config?"},
		{"global before the command", "--cache-dri x list", nil, "unknown flag --cache-dri: did you mean --cache-dir? (see 'wasmreg --help')"},
		{"duration without unit", "run --timeout 5 m.wasm", nil, "--timeout 5: a duration needs a unit, such as 5s or 5ms"},
		{"duration word", "run --timeout=soon", nil, "--timeout soon: not a duration"},
		{"global duration", "--registry-timeout 30 pull", nil, "--registry-timeout 30: a duration needs a unit, such as 30s"},
		{"uint", "run --table-limit -1", nil, "--table-limit -1: not a non-negative integer"},
		{"bool with value", "run --help=maybe", nil, "--help maybe: not true or false"},
		{"env duration", "list", map[string]string{"WASMREG_TIMEOUT": "5"}, "WASMREG_TIMEOUT=5 (sets --timeout): a duration needs a unit"},
		{"env global", "list", map[string]string{"WASMREG_REGISTRY_TIMEOUT": "x"}, "WASMREG_REGISTRY_TIMEOUT=x (sets --registry-timeout): not a duration"},
		{"env fine", "list", map[string]string{"WASMREG_TIMEOUT": "5s"}, ""},
		{"hostile value quoted", "run --timeout a\x1bb", nil, `--timeout "a\x1bb": not a duration`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args, err := ReorderArgs(a, append([]string{"wasmreg"}, strings.Fields(tc.args)...))
			require.NoError(t, err)
			env := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			err = CheckArgs(a, args, env)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.IsType(t, usageError{}, err, "a usage error, exit status 2")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"config", "config", 0}, {"confg", "config", 1}, {"cnofig", "config", 1},
		{"timeout", "tiemout", 1}, {"dir", "dri", 1}, {"abc", "", 3}, {"kitten", "sitting", 3},
	} {
		assert.Equal(t, tc.want, editDistance(tc.a, tc.b), "%q %q", tc.a, tc.b)
	}
}
