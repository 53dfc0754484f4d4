package host_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/registry"
)

func TestLoadReadsMetadata(t *testing.T) {
	h, _ := newHost(t, allCaps)
	f := load(t, h, "guest.wasm")
	info := f.Info()
	assert.Equal(t, "testguest", info.Name)
	assert.Equal(t, "1.2.3", info.Version)
	assert.Equal(t, "exercises every import of ABI v1", info.Description)
	assert.JSONEq(t, `{"type":["object","string"]}`, string(info.ConfigSchema))
	assert.Equal(t, []string{"artifact", "clock", "log", "random"}, info.Capabilities)
	assert.Equal(t, "testguest@1.2.3", f.Name())
	assert.Len(t, f.Digest(), 64)
	assert.Equal(t, host.Digest(fixture(t, "guest.wasm")), f.Digest())
	assert.Contains(t, f.Exports(), "wasmreg_predict")
	assert.Contains(t, f.Imports(), host.Import{Module: "wasmreg", Name: "random_seed", Capability: host.CapRandom})
	assert.Contains(t, f.Imports(), host.Import{Module: "wasmreg", Name: "log"}, "log needs no grant")
	for _, imp := range f.Imports() {
		hi, ok := strings.CutPrefix(imp.Name, imp.Capability+"_")
		assert.True(t, imp.Capability == "" || ok && hi != "", "%v needs %q", imp, imp.Capability)
	}

	echo := load(t, h, "echo.wasm")
	assert.Equal(t, registry.Info{Name: "echo", Version: "1.0.0", Description: "answers with its config", Capabilities: []string{}}, echo.Info())
}

func TestLoadErrors(t *testing.T) {
	h, _ := newHost(t, host.WithModuleSizeLimit(1<<20))
	truncated := fixture(t, "echo.wasm")
	truncated = truncated[:len(truncated)/2]
	tests := []struct {
		name     string
		wasm     []byte
		host     *host.Host
		want     error
		contains []string
		option   string // the option of the LimitError, if one
	}{
		{name: "empty", wasm: []byte{}, want: host.ErrInvalidModule},
		{name: "not wasm", wasm: []byte("#!/bin/sh\necho hello\n"), want: host.ErrInvalidModule},
		{name: "truncated", wasm: truncated, want: host.ErrInvalidModule},
		{name: "too large", wasm: make([]byte, 1<<20+1), want: host.ErrModuleTooLarge, contains: []string{"1048577 bytes", "WithModuleSizeLimit"}, option: "WithModuleSizeLimit"},
		{name: "missing export", wasm: fixture(t, "missing_export.wasm"), want: host.ErrMissingExport, contains: []string{"wasmreg_predict"}},
		{name: "wrong export type", wasm: fixture(t, "wrong_type.wasm"), want: host.ErrMissingExport, contains: []string{"wasmreg_build is exported as () -> (i32); ABI v1 declares wasmreg_build (len: i32) -> i32"}},
		{name: "wrong abi version", wasm: fixture(t, "bad_version.wasm"), want: host.ErrABIVersion, contains: []string{"returned 2", "version 1"}},
		{name: "unknown wasmreg import", wasm: fixture(t, "unknown_import.wasm"), want: host.ErrUnknownImport, contains: []string{"wasmreg.frobnicate"}},
		{name: "unknown import module", wasm: fixture(t, "env_import.wasm"), want: host.ErrUnknownImport, contains: []string{"env.abort", `module "env"`}},
		{name: "capability not granted", wasm: fixture(t, "clock.wasm"), want: host.ErrNotGranted, contains: []string{"wasmreg.clock_now", `capability "clock"`}},
		{name: "unknown capability", wasm: fixture(t, "unknown_capability.wasm"), want: host.ErrUnknownCapability, contains: []string{`"teleport"`, "teleporter@1.0.0"}},
		{name: "bad metadata", wasm: fixture(t, "bad_metadata.wasm"), want: host.ErrBadMetadata, contains: []string{"wasmreg_info"}},
		{name: "memory over limit", wasm: fixture(t, "big_memory.wasm"), want: host.ErrMemoryLimit, contains: []string{"2000 pages", "67108864 bytes", "WithMemoryLimit"}, option: "WithMemoryLimit"},
		{name: "output in _initialize", wasm: fixture(t, "init_output.wasm"), want: host.ErrOutsideCall, contains: []string{"export _initialize", "output called from a start function or _initialize"}},
		{name: "error in _initialize", wasm: fixture(t, "init_error.wasm"), want: host.ErrOutsideCall, contains: []string{
			`factory "sha256:`, "export _initialize: initerror: no weights compiled in (", "error called from a start function or _initialize"}},
		{name: "info returns non-zero", wasm: fixture(t, "info_fails.wasm"), want: host.ErrGuest, contains: []string{"export wasmreg_info returned code 3"}},
		{name: "imported global and table", wasm: fixture(t, "import_global.wasm"), want: host.ErrUnknownImport, contains: []string{"global env.g", "table wasmreg.tbl"}},
		{name: "metadata key in capitals", wasm: fixture(t, "metadata_case.wasm"), want: host.ErrBadMetadata, contains: []string{`unknown field "NAME"`}},
		{name: "unknown metadata field", wasm: fixture(t, "metadata_unknown.wasm"), want: host.ErrBadMetadata, contains: []string{`unknown field "licence"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := h.Load(context.Background(), tc.wasm)
			require.Error(t, err)
			assert.Nil(t, f)
			assert.ErrorIs(t, err, tc.want)
			for _, s := range tc.contains {
				assert.Contains(t, err.Error(), s)
			}
			if tc.option != "" {
				requireLimit(t, err, tc.want, tc.option)
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	h, _ := newHost(t)
	// guest.wasm imports three capabilities the host did not grant.
	_, err := h.Load(context.Background(), fixture(t, "guest.wasm"))
	require.ErrorIs(t, err, host.ErrNotGranted)
	for _, imp := range []string{"clock_now", "clock_monotonic", "random_fill", "random_seed", "artifact_size", "artifact_read"} {
		assert.Contains(t, err.Error(), "wasmreg."+imp)
	}
}

// TestLoadModuleError: a memory over the limit no longer hides the other
// problems; the *ModuleError lists each, and errors.Is finds each kind.
func TestLoadModuleError(t *testing.T) {
	h, _ := newHost(t, host.WithMemoryLimit(64<<10))
	// guest.wasm declares 4 pages and imports six ungranted functions.
	_, err := h.Load(context.Background(), fixture(t, "guest.wasm"))
	var me *host.ModuleError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, "sha256:"+host.Digest(fixture(t, "guest.wasm"))[:12], me.Module)
	require.Len(t, me.Problems, 7)
	kinds := map[error]int{}
	for _, p := range me.Problems {
		for _, k := range []error{host.ErrNotGranted, host.ErrMemoryLimit} {
			if errors.Is(p, k) {
				kinds[k]++
			}
		}
	}
	assert.Equal(t, map[error]int{host.ErrNotGranted: 6, host.ErrMemoryLimit: 1}, kinds)
	assert.ErrorIs(t, err, host.ErrNotGranted)
	assert.ErrorIs(t, err, host.ErrMemoryLimit)

	// A module that cannot be decoded is one problem.
	_, err = h.Load(context.Background(), []byte("not wasm"))
	require.ErrorAs(t, err, &me)
	require.Len(t, me.Problems, 1)
	assert.ErrorIs(t, me.Problems[0], host.ErrInvalidModule)
}

func TestBuildAndPredict(t *testing.T) {
	h, _ := newHost(t)
	f := load(t, h, "echo.wasm")
	ctx := context.Background()

	m, err := f.Build(ctx, []byte(`{"a":1}`))
	require.NoError(t, err)
	defer m.Close(ctx)
	for range 3 {
		out, err := m.Predict(ctx, []byte("anything"))
		require.NoError(t, err)
		assert.Equal(t, `{"a":1}`, string(out))
	}

	m2, err := f.Build(ctx, nil)
	require.NoError(t, err)
	out, err := m2.Predict(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, "{}", string(out), "an empty config is {}")
	require.NoError(t, m2.Close(ctx))
	require.NoError(t, m2.Close(ctx), "Close is idempotent")
	_, err = m2.Predict(ctx, nil)
	assert.ErrorIs(t, err, host.ErrModelClosed)
}

func TestBuildErrors(t *testing.T) {
	h, _ := newHost(t, allCaps, host.WithCallTimeout(300*time.Millisecond), host.WithInputLimit(100))
	f := load(t, h, "guest.wasm")
	tests := []struct {
		name    string
		config  string
		want    error
		code    int32
		message string
	}{
		{name: "message", config: `"Fail"`, want: host.ErrGuest, code: 1, message: "bad config"},
		{name: "code only", config: `"Code"`, want: host.ErrGuest, code: 5},
		{name: "trap", config: `"Trap"`, want: host.ErrTrap, message: "unreachable"},
		{name: "timeout", config: `"Loop"`, want: host.ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := f.Build(context.Background(), []byte(tc.config))
			require.Error(t, err)
			assert.Nil(t, m)
			assert.ErrorIs(t, err, tc.want)
			var ce *host.CallError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "testguest@1.2.3", ce.Factory)
			assert.Equal(t, "wasmreg_build", ce.Export)
			assert.Equal(t, tc.code, ce.Code)
			assert.Contains(t, ce.Message, tc.message)
			assert.Contains(t, err.Error(), `factory "testguest@1.2.3" export wasmreg_build`)
			if tc.code != 0 && tc.message == "" {
				assert.Contains(t, err.Error(), fmt.Sprintf("returned code %d", tc.code))
			}
		})
	}
	t.Run("config over the input limit", func(t *testing.T) {
		_, err := f.Build(context.Background(), []byte(`"`+strings.Repeat("x", 200)+`"`))
		assert.ErrorIs(t, err, host.ErrInputLimit)
		requireLimit(t, err, host.ErrInputLimit, "WithInputLimit")
	})
	// The host keeps working after all of the above.
	m, err := f.Build(context.Background(), []byte(`{}`))
	require.NoError(t, err)
	out, err := m.Predict(context.Background(), []byte("n"))
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 0, 0, 0}, out)
	require.NoError(t, m.Close(context.Background()))
}

func TestPredictErrors(t *testing.T) {
	// A timeout no bounded work reaches on a loaded machine under -race;
	// the infinite loop has a short deadline of its own.
	h, logs := newHost(t, allCaps, host.WithCallTimeout(time.Minute), host.WithOutputLimit(1<<20))
	f := load(t, h, "guest.wasm")
	ctx := context.Background()
	tests := []struct {
		name     string
		request  string
		want     error
		closes   bool
		code     int32
		message  string
		deadline time.Duration
		option   string // the option of the LimitError, if one
	}{
		{name: "message", request: "e", want: host.ErrGuest, code: 2, message: "bad request"},
		{name: "code only", request: "c", want: host.ErrGuest, code: 9},
		{name: "unreachable", request: "t", want: host.ErrTrap, closes: true, message: "unreachable"},
		{name: "division by zero", request: "d", want: host.ErrTrap, closes: true, message: "divide by zero"},
		{name: "unbounded recursion", request: "x", want: host.ErrStackOverflow, closes: true, message: "stack overflow", option: "WithStackLimit"},
		{name: "output out of bounds", request: "o", want: host.ErrOutOfBounds, closes: true, message: "output: 100 bytes at 4294967280"},
		{name: "input out of bounds", request: "iiiiiiiiii", want: host.ErrOutOfBounds, closes: true, message: "input: 10 bytes at 262140"},
		{name: "output bomb", request: "b", want: host.ErrOutputLimit, closes: true, message: "more than 1048576 bytes", option: "WithOutputLimit"},
		{name: "infinite loop", request: "l", want: host.ErrTimeout, closes: true, deadline: 300 * time.Millisecond, option: "WithCallTimeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := f.Build(ctx, []byte(`{}`))
			require.NoError(t, err)
			defer m.Close(ctx)
			pctx, cancel := ctx, context.CancelFunc(func() {})
			if tc.deadline > 0 {
				pctx, cancel = context.WithTimeout(ctx, tc.deadline)
			}
			out, err := m.Predict(pctx, []byte(tc.request))
			cancel()
			require.Error(t, err)
			assert.Nil(t, out)
			assert.ErrorIs(t, err, tc.want)
			var ce *host.CallError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "wasmreg_predict", ce.Export)
			assert.Equal(t, tc.code, ce.Code)
			assert.Contains(t, ce.Message, tc.message)
			assert.NotContains(t, err.Error(), "\n", "error messages are one line")
			if tc.option != "" {
				requireLimit(t, err, tc.want, tc.option)
			}

			_, err = m.Predict(ctx, []byte("n"))
			if tc.closes {
				assert.ErrorIs(t, err, host.ErrModelClosed)
				assert.ErrorIs(t, err, tc.want, "the closed error says why")
			} else {
				assert.NoError(t, err, "a guest error leaves the model usable")
			}
		})
	}
	t.Run("log spam", func(t *testing.T) {
		m, err := f.Build(ctx, []byte(`{}`))
		require.NoError(t, err)
		defer m.Close(ctx)
		_, err = m.Predict(ctx, []byte("g"))
		require.NoError(t, err)
		assert.Equal(t, host.DefaultLogLinesPerCall, logs.Count("spam line"))
		assert.Contains(t, logs.String(), "dropped=4000")
	})
	t.Run("request over the input limit", func(t *testing.T) {
		m, err := f.Build(ctx, nil)
		require.NoError(t, err)
		defer m.Close(ctx)
		_, err = m.Predict(ctx, make([]byte, host.DefaultInputLimit+1))
		assert.ErrorIs(t, err, host.ErrInputLimit)
		le := requireLimit(t, err, host.ErrInputLimit, "WithInputLimit")
		assert.Equal(t, int64(host.DefaultInputLimit), le.Limit)
		assert.Equal(t, int64(host.DefaultInputLimit+1), le.Got)
	})
}

func TestPredictCanceled(t *testing.T) {
	h, _ := newHost(t, allCaps, host.WithCallTimeout(0))
	f := load(t, h, "guest.wasm")
	m, err := f.Build(context.Background(), nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = m.Predict(ctx, []byte("l"))
	require.ErrorIs(t, err, context.Canceled)
	_, err = m.Predict(context.Background(), []byte("n"))
	assert.ErrorIs(t, err, host.ErrModelClosed)
}

func TestCloseStopsRunningPredict(t *testing.T) {
	h, _ := newHost(t, allCaps, host.WithCallTimeout(0))
	f := load(t, h, "guest.wasm")
	m, err := f.Build(context.Background(), nil)
	require.NoError(t, err)
	time.AfterFunc(100*time.Millisecond, func() { _ = m.Close(context.Background()) })
	_, err = m.Predict(context.Background(), []byte("l"))
	assert.ErrorIs(t, err, host.ErrModelClosed)
}

func TestModelsAreIsolated(t *testing.T) {
	h, _ := newHost(t, allCaps)
	f := load(t, h, "guest.wasm")
	ctx := context.Background()
	a, err := f.Build(ctx, []byte(`"a"`))
	require.NoError(t, err)
	b, err := f.Build(ctx, []byte(`"b"`))
	require.NoError(t, err)
	counter := func(m registry.Model) uint32 {
		out, err := m.Predict(ctx, []byte("n"))
		require.NoError(t, err)
		return binary.LittleEndian.Uint32(out)
	}
	assert.Equal(t, uint32(1), counter(a))
	assert.Equal(t, uint32(2), counter(a))
	assert.Equal(t, uint32(1), counter(b), "each model has its own instance")
	out, err := b.Predict(ctx, []byte("?x"))
	require.NoError(t, err)
	assert.Equal(t, `"b"?x`, string(out))
	require.NoError(t, a.Close(ctx))
	assert.Equal(t, uint32(2), counter(b), "closing one model leaves the other")
	require.NoError(t, b.Close(ctx))
}

func TestMemoryGrowStopsAtLimit(t *testing.T) {
	h, _ := newHost(t, allCaps, host.WithMemoryLimit(1<<20))
	f := load(t, h, "guest.wasm")
	m, err := f.Build(context.Background(), nil)
	require.NoError(t, err)
	defer m.Close(context.Background())
	out, err := m.Predict(context.Background(), []byte("G"))
	require.NoError(t, err)
	assert.Equal(t, int32(-1), int32(binary.LittleEndian.Uint32(out)), "memory.grow past the limit returns -1")
}

func TestHostClose(t *testing.T) {
	h, err := host.New(context.Background())
	require.NoError(t, err)
	f, err := h.Load(context.Background(), fixture(t, "echo.wasm"))
	require.NoError(t, err)
	m, err := f.Build(context.Background(), nil)
	require.NoError(t, err)
	require.NoError(t, h.Close(context.Background()))
	require.NoError(t, h.Close(context.Background()), "Close is idempotent")

	_, err = h.Load(context.Background(), fixture(t, "echo.wasm"))
	assert.ErrorIs(t, err, host.ErrClosed)
	_, err = f.Build(context.Background(), nil)
	assert.ErrorIs(t, err, host.ErrClosed)
	_, err = m.Predict(context.Background(), nil)
	assert.ErrorIs(t, err, host.ErrModelClosed)
}

func TestOptionsAreValidated(t *testing.T) {
	tests := []struct {
		name   string
		opt    host.Option
		option string
	}{
		{"memory not a page multiple", host.WithMemoryLimit(1000), "WithMemoryLimit"},
		{"memory over 4 GiB", host.WithMemoryLimit(8 << 30), "WithMemoryLimit"},
		{"negative timeout", host.WithCallTimeout(-time.Second), "WithCallTimeout"},
		{"zero output", host.WithOutputLimit(0), "WithOutputLimit"},
		{"zero stdio", host.WithStdioLimit(0), "WithStdioLimit"},
		{"negative stdio", host.WithStdioLimit(-1), "WithStdioLimit"},
		{"zero input", host.WithInputLimit(0), "WithInputLimit"},
		{"zero module size", host.WithModuleSizeLimit(0), "WithModuleSizeLimit"},
		{"tiny log line", host.WithLogLimits(1, 10), "WithLogLimits"},
		{"empty cache dir", host.WithCompilationCacheDir(""), "WithCompilationCacheDir"},
		{"unknown grant", host.WithGrants("teleport"), "WithGrants"},
		{"nil container", host.WithContainer(nil), "WithContainer"},
		{"nil logger", host.WithLogger(nil), "WithLogger"},
		{"nil artifacts", host.WithArtifacts(nil), "WithArtifacts"},
		{"nil option", nil, "nil option"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := host.New(context.Background(), tc.opt)
			require.Error(t, err)
			assert.Nil(t, h)
			assert.ErrorIs(t, err, host.ErrInvalidOption)
			assert.Contains(t, err.Error(), tc.option)
		})
	}
	_, err := host.New(context.Background(), host.WithGrants("teleport"))
	assert.ErrorIs(t, err, host.ErrUnknownCapability)
}

func TestCompilationCacheDir(t *testing.T) {
	dir := t.TempDir() + "/cache"
	for range 2 {
		h, err := host.New(context.Background(), host.WithCompilationCacheDir(dir))
		require.NoError(t, err)
		_, err = h.Load(context.Background(), fixture(t, "echo.wasm"))
		require.NoError(t, err)
		require.NoError(t, h.Close(context.Background()))
	}
	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, "drwx------", st.Mode().String(), "the cache is owner-only")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.NotEmpty(t, entries, "wazero wrote compiled code")
}

func TestErrorsAreDistinct(t *testing.T) {
	all := []error{host.ErrInvalidModule, host.ErrModuleTooLarge, host.ErrABIVersion, host.ErrMissingExport,
		host.ErrUnknownImport, host.ErrMistypedImport, host.ErrUnknownCapability, host.ErrNotGranted, host.ErrBadMetadata, host.ErrMemoryLimit,
		host.ErrOutputLimit, host.ErrInputLimit, host.ErrTimeout, host.ErrTrap, host.ErrGuest, host.ErrOutOfBounds,
		host.ErrOutsideCall, host.ErrModelClosed, host.ErrFactoryClosed, host.ErrClosed, host.ErrInvalidOption,
		host.ErrBusy, host.ErrDigestMismatch}
	for i, a := range all {
		assert.True(t, strings.HasPrefix(a.Error(), "host: "), a.Error())
		for j, b := range all {
			assert.Equal(t, i == j, errors.Is(a, b), "%v vs %v", a, b)
		}
	}
	assert.ErrorIs(t, host.ErrStackOverflow, host.ErrTrap, "a stack overflow is a trap")
}

// TestVariadicOptionsCopy: changing the slice given to a variadic option
// after making the option changes nothing.
func TestVariadicOptionsCopy(t *testing.T) {
	ctx := context.Background()
	t.Run("WithGrants", func(t *testing.T) {
		caps := []string{host.CapClock}
		opt := host.WithGrants(caps...)
		caps[0] = "teleport" // unknown: the option would refuse it
		h, err := host.New(ctx, opt)
		require.NoError(t, err)
		defer h.Close(ctx)
		_, err = h.Load(ctx, fixture(t, "clock.wasm"))
		assert.NoError(t, err, "clock is still granted")
	})
	t.Run("WithPinnedDigests", func(t *testing.T) {
		echo := fixture(t, "echo.wasm")
		pins := []string{host.Digest(echo)}
		opt := host.WithPinnedDigests(pins...)
		pins[0] = host.Digest([]byte("other"))
		h, err := host.New(ctx, opt)
		require.NoError(t, err)
		defer h.Close(ctx)
		_, err = h.Load(ctx, echo)
		assert.NoError(t, err, "echo is still pinned")
	})
}

// TestWithStdioLimit: WASI output past the per-instance cap is dropped,
// and the drop logged.
func TestWithStdioLimit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limit   int
		dropped bool
	}{
		{"under the cap", 1 << 10, false},
		{"over the cap", 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, logs := newHost(t, host.WithStdioLimit(tc.limit))
			ctx := context.Background()
			f, err := h.Load(ctx, hostileWasm(t, "escape_log"))
			require.NoError(t, err)
			m, err := f.Build(ctx, nil)
			require.NoError(t, err)
			defer m.Close(ctx)
			_, err = m.Predict(ctx, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.dropped, strings.Contains(logs.String(), "over the per-instance cap"), logs.String())
			assert.Equal(t, !tc.dropped, strings.Contains(logs.String(), "]2;pwned"), "the WASI line is logged only under the cap")
		})
	}
}
