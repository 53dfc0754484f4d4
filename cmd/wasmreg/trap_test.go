package main_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

// trapGuest builds one of the trapping test factories into a file of the
// test's and returns its path.
func trapGuest(t *testing.T, build func(ctx context.Context) ([]byte, error)) string {
	t.Helper()
	wasm, err := build(context.Background())
	if errors.Is(err, wasmbuild.ErrToolMissing) {
		t.Fatalf("the trapping guests need every guest toolchain (make deps installs them): %v", err)
	}
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "guest.wasm")
	require.NoError(t, os.WriteFile(path, wasm, 0o644))
	return path
}

func goTrapGuest(name, pkg string) func(ctx context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		root, err := wasmbuild.RepoRoot()
		if err != nil {
			return nil, err
		}
		path, err := wasmbuild.Shared.Get(name, func(out string) error { return wasmbuild.Go(ctx, root, pkg, out) })
		if err != nil {
			return nil, err
		}
		return os.ReadFile(path)
	}
}

func cTrapGuest(name string, flags ...string) func(ctx context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		return wasmbuild.Shared.CFactory(ctx, name, "examples/factories/testdata/ctrap/ctrap.c", flags...)
	}
}

// TestRunTrapReason runs a request that traps, in each language: the
// line's error says why, in the guest's words.
func TestRunTrapReason(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		guest   func(ctx context.Context) ([]byte, error)
		args    []string
		request string
		want    []string
	}{
		{"c", cTrapGuest("cmd-ctrap"), nil, "trap",
			[]string{`line 1: host: factory "ctrap@1.0.0" export wasmreg_predict: ctrap: asked to trap with 42 (wasm error: unreachable)`}},
		{"rust", func(ctx context.Context) ([]byte, error) {
			return wasmbuild.Shared.RustFactory(ctx, "cmd-rust-scale", "guest-sdk/rust/example", "scale")
		}, []string{"--config", `{"factor": 1}`}, "panic",
			[]string{`line 1: host: factory "scale-rs@1.0.0" export wasmreg_predict: panicked at src/lib.rs:`, `: asked to panic (wasm error: unreachable)`}},
		{"assemblyscript", func(ctx context.Context) ([]byte, error) {
			return wasmbuild.Shared.ASFactory(ctx, "cmd-as-scale", "example/scale.ts")
		}, []string{"--config", `{"factor": 1}`}, "abort",
			[]string{`line 1: host: factory "scale-as@1.0.0" export wasmreg_predict: abort: asked to abort at example/scale.ts:`}},
		{"go", goTrapGuest("cmd-gocaps", "./examples/factories/testdata/gocaps"),
			[]string{"--grant", "clock", "--grant", "random", "--grant", "artifact=w=main.go"}, `{"op": "oom"}`,
			[]string{`line 1: host: factory "gocaps@0.1.0" export wasmreg_predict: runtime: out of memory: cannot allocate `, `; fatal error: out of memory (wasm error: unreachable)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := trapGuest(t, tc.guest)
			r := runBinary(t, "", tc.request+"\n", append([]string{"run", path}, tc.args...)...)
			assert.Equal(t, 1, r.status, r.stderr)
			var line string
			for _, l := range r.stderrLines() {
				if strings.HasPrefix(l, "line 1: ") {
					line = l
				}
			}
			for _, w := range tc.want {
				assert.Contains(t, line, w, "stderr:\n%s", r.stderr)
			}
			assert.Less(t, len(r.stderrLines()), 30, "a runtime's dump is cut short:\n%s", r.stderr)
		})
	}
}

// TestValidateTrapReason validates modules that trap while loading, in
// each language: the ✗ line says why, and names what ran.
func TestValidateTrapReason(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		guest func(ctx context.Context) ([]byte, error)
		want  []string
	}{
		{"c constructor", cTrapGuest("cmd-ctrap-start", "-DCTRAP_AT_START"),
			[]string{"export _initialize: ctrap: cannot start: the weights are missing (wasm error: unreachable)"}},
		{"rust info panics", func(ctx context.Context) ([]byte, error) {
			return wasmbuild.Shared.RustFactory(ctx, "cmd-rust-infopanic", "guest-sdk/rust/testdata/infopanic", "rustinfopanic")
		}, []string{"export wasmreg_info: panicked at src/lib.rs:", ": rustinfopanic: no metadata compiled in (wasm error: unreachable)"}},
		{"assemblyscript top-level abort", func(ctx context.Context) ([]byte, error) {
			return wasmbuild.Shared.ASFactory(ctx, "cmd-as-startabort", "testdata/startabort.ts")
		}, []string{"start function: abort: asstartabort: no weights compiled in at testdata/startabort.ts:"}},
		{"go Register panics", goTrapGuest("cmd-gopanic", "./examples/factories/testdata/gopanic"),
			[]string{`export _initialize: panic: wasmreg: Register: Info.Name "bad name!": byte 3 is ' '`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := trapGuest(t, tc.guest)
			r := runBinary(t, "", "", "validate", path)
			assert.Equal(t, 1, r.status, r.stderr)
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			require.Len(t, lines, 2, r.stdout)
			assert.True(t, strings.HasPrefix(lines[1], "  ✗ error: "), lines[1])
			for _, w := range tc.want {
				assert.Contains(t, lines[1], w)
			}
			assert.NotContains(t, lines[1], "export instantiate")
		})
	}
}
