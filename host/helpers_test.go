package host_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wasmreg/wasmreg/host"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
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
	h, err := host.New(context.Background(), append([]host.Option{host.WithLogger(logger)}, opts...)...)
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

var (
	goGuestOnce sync.Once
	goGuestWasm []byte
	goGuestErr  error
)

// goGuest builds testdata/goguest with Go's own wasip1 port, once per test
// binary.
func goGuest(t testing.TB) []byte {
	t.Helper()
	goGuestOnce.Do(func() {
		dir, err := os.MkdirTemp("", "goguest")
		if err != nil {
			goGuestErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "goguest.wasm")
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-buildmode=c-shared", "-o", out, "./testdata/goguest")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			goGuestErr = &buildError{err, string(b)}
			return
		}
		goGuestWasm, goGuestErr = os.ReadFile(out)
	})
	require.NoError(t, goGuestErr)
	return goGuestWasm
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "build goguest: " + e.err.Error() + "\n" + e.out }

var (
	osStat    = os.Stat
	osReadDir = os.ReadDir
)

var osWriteFile = os.WriteFile
