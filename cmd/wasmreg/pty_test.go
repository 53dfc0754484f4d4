//go:build linux

package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/cmd/wasmreg/internal/ptytest"
)

// TestRunEscapesOnTerminal runs escape_response and escape_error with
// standard output, then standard error, on a terminal: the responses
// and errors arrive escaped, without one raw control, C1 or bidi byte.
func TestRunEscapesOnTerminal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, fixture string
		stderr        bool // the terminal is standard error, not standard output
		want          string
	}{
		{"response on stdout", "escape_response", false,
			strings.Repeat(`\x1b[2J\x1b]0;pwned\x07\x1b[31mred\u009b2J\x9b\u202eevil\u2066x\x7f`+"\n", 2)},
		{"error on stderr", "escape_error", true,
			`line 1: host: factory "hostile-escape-error@1.0.0" export wasmreg_predict returned code 3: ` +
				`bad \x1b[2J\x1b]0;pwned\x07 \u009b31m \u202e \xff\x0d\x0asecond line` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pty, err := ptytest.Open()
			if err != nil {
				t.Skipf("no pseudo-terminal: %v", err)
			}
			defer pty.Close()
			cmd := exec.Command(binary, "--no-cache", "run", escapeFixture(tc.fixture))
			cmd.Env = append(os.Environ(), "TERM=xterm")
			cmd.Stdin = strings.NewReader("one\ntwo\n")
			var other bytes.Buffer
			cmd.Stdout, cmd.Stderr = pty.Tty, &other
			if tc.stderr {
				cmd.Stdout, cmd.Stderr = &other, pty.Tty
			}
			_ = cmd.Run()
			got := string(pty.Output())
			assertSafe(t, "terminal", got)
			assert.Contains(t, got, tc.want)
			require.NotContains(t, got, "\x1b", "no ESC at all")
		})
	}
}
