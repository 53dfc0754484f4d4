package app

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCommandsShowTheFlagsTheyUse checks that each command's help lists
// the limit flags that matter to what it does, and only those: a command
// that only loads modules does not list the limits of a running model,
// though it accepts them.
func TestCommandsShowTheFlagsTheyUse(t *testing.T) {
	running := []string{"--memory-budget", "--max-instances", "--input-limit", "--output-limit",
		"--compile-concurrency", "--stack-limit", "--log-line-limit", "--log-lines-per-call"}
	loading := []string{"--timeout", "--memory-limit", "--module-size-limit", "--compile-timeout", "--table-limit", "--module-limit"}
	for _, tc := range []struct {
		cmd          string
		shown, there []string
	}{
		{"run", append(loading, running...), nil},
		{"bench", append(loading, running...), nil},
		{"serve", append(loading, running...), nil},
		{"list", loading, running},
		{"inspect", loading, running},
		{"validate", loading, running},
		{"lock", loading, running},
		{"push", loading, running},
		{"pull", []string{"--module-size-limit"}, append([]string{"--timeout", "--memory-limit"}, running...)},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			stdout, stderr, status := runMain(t, "", tc.cmd, "--help")
			require.Equal(t, ExitOK, status, stderr)
			for _, f := range tc.shown {
				assert.Contains(t, stdout, "   "+f+" ", "%s --help lists %s", tc.cmd, f)
			}
			for _, f := range tc.there {
				assert.NotContains(t, stdout, "   "+f+" ", "%s --help does not list %s", tc.cmd, f)
				// Hidden, but accepted: the parser does not call it unknown.
				_, stderr, _ := runMain(t, "", tc.cmd, f+"=bogus")
				assert.NotContains(t, stderr, "unknown flag", "%s accepts %s", tc.cmd, f)
			}
		})
	}
}
