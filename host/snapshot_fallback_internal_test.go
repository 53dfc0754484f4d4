package host

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/wasmreg/wasmreg/host/internal/linmem"
	"github.com/wasmreg/wasmreg/host/internal/snapshot"
	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// goBuilt appends the custom section Go's toolchain writes.
func goBuilt(wasm []byte) []byte {
	name := "go:buildid"
	payload := wasmbin.AppendName(nil, name)
	payload = append(payload, "fake"...)
	return wasmbin.AppendSection(append([]byte(nil), wasm...), wasmbin.SecCustom, payload)
}

// TestSnapshotFailureFallsBack: when the host cannot take a snapshot (no
// memfd_create here), Load still loads the factory, not snapshotted, says
// why in the log, and every build initialises from scratch; a host-side
// failure is never blamed on the guest.
func TestSnapshotFailureFallsBack(t *testing.T) {
	linmem.MemfdCreate = func(string, int) (int, error) { return -1, unix.ENOSYS }
	defer func() { linmem.MemfdCreate = unix.MemfdCreate }()

	wasm, err := os.ReadFile("testdata/guest.wasm")
	require.NoError(t, err)
	// Go-built and big enough to be snapshotted: a padding section.
	pad := wasmbin.AppendName(nil, "padding")
	wasm = wasmbin.AppendSection(goBuilt(wasm), wasmbin.SecCustom, append(pad, make([]byte, snapshot.MinSize)...))

	var logs strings.Builder
	var mu sync.Mutex
	ctx := context.Background()
	// Snapshots are for hosts that grant neither clock nor random:
	// guest.wasm imports them, which WithUngrantedImports lets it.
	h, err := New(ctx, WithUngrantedImports(), WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))))
	require.NoError(t, err)
	defer h.Close(ctx)
	f, err := h.Load(ctx, wasm)
	require.NoError(t, err, "a snapshot the host cannot take does not fail Load")
	require.NotNil(t, f.plan, "compiled from the snapshot rewrite")
	assert.False(t, f.Snapshotted())
	mu.Lock()
	assert.Contains(t, logs.String(), "factory not snapshotted")
	assert.Contains(t, logs.String(), "memfd_create")
	mu.Unlock()

	// Builds apply the data segments themselves, concurrently (and under
	// -race, without writing the factory).
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			m, err := f.BuildModel(ctx, []byte(`{}`))
			if !assert.NoError(t, err) {
				return
			}
			defer m.Close(ctx)
			out, err := m.Predict(ctx, []byte("n"))
			assert.NoError(t, err)
			assert.Equal(t, []byte{1, 0, 0, 0}, out, "the data segments were applied")
		})
	}
	wg.Wait()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
