package factories_test

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

// TestMain removes the modules the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := wasmbuild.Shared.Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// testLogs collects a host's log for the tests to read; safe for
// concurrent use.
type testLogs struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (l *testLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *testLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// guestError checks that err is a guest failure (not a trap) of export
// with code, and returns its message.
func guestError(t testing.TB, err error, export string, code int32) string {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, host.ErrGuest)
	require.NotErrorIs(t, err, host.ErrTrap)
	var ce *host.CallError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, export, ce.Export)
	assert.Equal(t, code, ce.Code, "message: %s", ce.Message)
	return ce.Message
}
