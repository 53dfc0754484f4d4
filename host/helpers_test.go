package host_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { _ = wasmbuild.Shared.Cleanup() }))
}

// logBuffer is a slog handler target that tests can read; safe for
// concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) Count(substr string) int { return strings.Count(l.String(), substr) }

// newHost returns a host whose log goes to the returned buffer, closed when
// the test ends.
func newHost(t testing.TB, opts ...host.Option) (*host.Host, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// wazero compiles a Go guest in a second, but in minutes under -race
	// on a loaded machine: the tests that want the compile timeout set it.
	h, err := host.New(context.Background(), append([]host.Option{host.WithLogger(logger), host.WithCompileTimeout(0)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, h.Close(context.Background())) })
	return h, logs
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func load(t testing.TB, h *host.Host, name string) *host.Factory {
	t.Helper()
	f, err := h.Load(context.Background(), fixture(t, name))
	require.NoError(t, err)
	return f
}

var allCaps = host.WithGrants(host.CapClock, host.CapRandom, host.CapArtifact)

// goGuest builds testdata/goguest with Go's own wasip1 port, once per test
// binary (buildGoGuest, shared with the package's internal tests).
func goGuest(t testing.TB) []byte { return host.BuildGoGuest(t) }

// requireLimit requires err to hold a *host.LimitError of kind raised by
// option, and returns it.
func requireLimit(t *testing.T, err error, kind error, option string) *host.LimitError {
	t.Helper()
	var le *host.LimitError
	require.ErrorAs(t, err, &le)
	assert.ErrorIs(t, le, kind)
	assert.Equal(t, option, le.Option)
	assert.Contains(t, le.Error(), "(raise it with host."+option)
	return le
}
