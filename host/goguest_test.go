package host_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/registry"
)

// TestGoGuest runs a factory built by Go's own GOOS=wasip1 port: WASI
// imports, _initialize, //go:wasmexport.
func TestGoGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and compiles a Go guest (make test runs it)")
	}
	wasm := goGuest(t)
	h, logs := newHost(t)
	ctx := context.Background()
	f, err := h.Load(ctx, wasm)
	require.NoError(t, err)
	assert.Equal(t, "goguest@0.1.0", f.Name())

	m, err := f.Build(ctx, []byte(`{"scale": 2.5}`))
	require.NoError(t, err)
	defer m.Close(ctx)
	assert.Contains(t, logs.String(), "built with scale 2.5")

	out, err := m.Predict(ctx, []byte(`[1, 2, 4]`))
	require.NoError(t, err)
	assert.JSONEq(t, `[2.5, 5, 10]`, string(out))

	_, err = m.Predict(ctx, []byte(`not json`))
	require.ErrorIs(t, err, host.ErrGuest)
	assert.ErrorContains(t, err, "request: invalid character")

	out, err = m.Predict(ctx, []byte(`print`))
	require.NoError(t, err)
	assert.Equal(t, "printed", string(out))
	assert.Contains(t, logs.String(), "hello from goguest stdout", "WASI stdout goes to the log")

	_, err = m.Predict(ctx, []byte(`partial`))
	require.NoError(t, err)
	assert.Contains(t, logs.String(), "no newline at the end", "a partial line is logged when the call ends")

	_, err = f.Build(ctx, []byte(`{"scale": "x"}`))
	require.ErrorIs(t, err, host.ErrInvalidConfig, "the factory's config_schema refuses it before the guest runs")
	assert.ErrorContains(t, err, "/scale: got string, want number")

	_, err = m.Predict(ctx, []byte(`panic`))
	require.ErrorIs(t, err, host.ErrTrap)
	assert.ErrorContains(t, err, "unreachable")
	assert.Contains(t, logs.String(), "goguest: asked to panic", "a Go guest's panic reaches the log")
	ce := requireTrap(t, err, host.ExportPredict, "panic: goguest: asked to panic")
	assert.Equal(t, `host: factory "goguest@0.1.0" export wasmreg_predict: panic: goguest: asked to panic (wasm error: unreachable)`, ce.Error())
	_, err = m.Predict(ctx, []byte(`[1]`))
	assert.ErrorIs(t, err, host.ErrModelClosed)
}

// requireTrap requires err to be a trap of export whose reason is reason,
// and returns its *host.CallError.
func requireTrap(t *testing.T, err error, export, reason string) *host.CallError {
	t.Helper()
	require.ErrorIs(t, err, host.ErrTrap)
	var ce *host.CallError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, export, ce.Export)
	assert.Equal(t, reason, ce.Reason)
	assert.ErrorContains(t, err, reason)
	return ce
}

// TestGoGuestTrapReason checks that a Go guest's trap says why: its panic
// line, the error it set before trapping, the out-of-memory line, without
// the runtime's hundred lines of stacks in the log.
func TestGoGuestTrapReason(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and compiles a Go guest (make test runs it)")
	}
	wasm := goGuest(t)
	h, logs := newHost(t, host.WithMemoryLimit(256<<20))
	ctx := context.Background()
	f, err := h.Load(ctx, wasm)
	require.NoError(t, err)

	t.Run("panic in the build", func(t *testing.T) {
		_, err := f.Build(ctx, []byte(`{"panic": true}`))
		requireTrap(t, err, host.ExportBuild, "panic: goguest: asked to panic in the build")
	})
	t.Run("error then panic", func(t *testing.T) {
		m, err := f.Build(ctx, nil)
		require.NoError(t, err)
		defer m.Close(ctx)
		_, err = m.Predict(ctx, []byte(`errorpanic`))
		requireTrap(t, err, host.ExportPredict, "goguest: the error set before trapping")
	})
	t.Run("out of memory", func(t *testing.T) {
		m, err := f.Build(ctx, nil)
		require.NoError(t, err)
		defer m.Close(ctx)
		before := strings.Count(logs.String(), "\n")
		_, err = m.Predict(ctx, []byte(`oom`))
		ce := requireTrap(t, err, host.ExportPredict, ce(t, err).Reason)
		t.Logf("reason: %s", ce.Reason)
		assert.Contains(t, ce.Reason, "fatal error: out of memory")
		assert.LessOrEqual(t, len(ce.Reason), host.MaxTrapReason)
		lines := strings.Count(logs.String(), "\n") - before
		assert.Less(t, lines, 20, "the runtime's dump is not logged whole:\n%s", logs.String())
		assert.Contains(t, logs.String(), "more lines of the Go runtime's dump not logged")
	})
}

func ce(t *testing.T, err error) *host.CallError {
	t.Helper()
	var ce *host.CallError
	require.ErrorAs(t, err, &ce)
	return ce
}

// TestGoGuestSnapshot checks that builds from a snapshot answer exactly as
// builds from scratch, and are as isolated: no state of one model, built
// or changed after the snapshot, reaches another.
func TestGoGuestSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and compiles a Go guest (make test runs it)")
	}
	wasm := goGuest(t)
	ctx := context.Background()
	answers := map[bool][]string{}
	for _, snapshots := range []bool{true, false} {
		var opts []host.Option
		if !snapshots {
			opts = append(opts, host.WithoutSnapshots())
		}
		h, logs := newHost(t, opts...)
		f, err := h.Load(ctx, wasm)
		require.NoError(t, err)
		require.Equal(t, snapshots, f.Snapshotted())

		a, err := f.Build(ctx, []byte(`{"scale": 2}`))
		require.NoError(t, err)
		b, err := f.Build(ctx, []byte(`{}`))
		require.NoError(t, err, "logs: %s", logs)
		for _, m := range []registry.Model{a, b, a} {
			out, err := m.Predict(ctx, []byte(`[1, 2.5]`))
			require.NoError(t, err)
			answers[snapshots] = append(answers[snapshots], string(out))
		}
		_, err = a.Predict(ctx, []byte(`panic`))
		require.ErrorIs(t, err, host.ErrTrap)
		c, err := f.Build(ctx, nil)
		require.NoError(t, err, "a trap in one model does not reach the snapshot")
		out, err := c.Predict(ctx, []byte(`[4]`))
		require.NoError(t, err)
		answers[snapshots] = append(answers[snapshots], string(out))
	}
	assert.Equal(t, []string{`[2,5]`, `[1,2.5]`, `[2,5]`, `[4]`}, answers[true],
		"model b was built after a's build set scale=2, and kept the default")
	assert.Equal(t, answers[false], answers[true], "snapshots answer as fresh instances do")
}

// ExampleCallError_Reason loads a module that says why it fails in
// _initialize (it calls error, then traps): the error names what ran and
// carries the guest's reason.
func ExampleCallError_Reason() {
	ctx := context.Background()
	h, err := host.New(ctx)
	if err != nil {
		panic(err)
	}
	defer h.Close(ctx)
	wasm, err := os.ReadFile("testdata/init_error.wasm")
	if err != nil {
		panic(err)
	}
	_, err = h.Load(ctx, wasm)
	var ce *host.CallError
	if errors.As(err, &ce) {
		fmt.Println(ce.Export)
		fmt.Println(ce.Reason)
	}
	// Output:
	// _initialize
	// initerror: no weights compiled in
}
