package wasmbin

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"

	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

// wazeroCompile reports whether wazero v1.12 (its interpreter, which
// shares decoding and validation with the compiler) compiles wasm with
// its default features, CoreFeaturesV2, as wasmreg's runtime does. A
// panic in wazero (host/testdata/hostile/compiler_crash.wasm makes its
// validation index out of range) is a refusal.
func wazeroCompile(wasm []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("wazero panicked: %v", p)
		}
	}()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	_, err = r.CompileModule(ctx, wasm)
	return err
}

// objdumpCounts is what wabt's wasm-objdump -d, a decoder independent of
// wazero and of this package, finds in a module.
type objdumpCounts struct {
	Functions    int
	Loops        int
	Instructions int
}

var (
	objdumpFunc = regexp.MustCompile(`^[0-9a-f]+ func\[\d+\]`)
	objdumpLine = regexp.MustCompile(`^ [0-9a-f]+: [^|]*\|(.*)$`)
)

// objdump disassembles wasm with wasm-objdump -d. It skips the test if
// wabt is not installed and reports ok false if wasm-objdump cannot read
// the module.
func objdump(t testing.TB, wasm []byte) (c objdumpCounts, ok bool) {
	t.Helper()
	tool, err := exec.LookPath("wasm-objdump")
	if err != nil {
		t.Skip("wasm-objdump (wabt) is not installed")
	}
	f, err := os.CreateTemp(t.TempDir(), "*.wasm")
	require.NoError(t, err)
	_, err = f.Write(wasm)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	var out bytes.Buffer
	cmd := exec.Command(tool, "-d", f.Name())
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return c, false
	}
	s := bufio.NewScanner(&out)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		line := s.Text()
		if objdumpFunc.MatchString(line) {
			c.Functions++
			continue
		}
		m := objdumpLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		// A long encoding continues on lines with no text; a local
		// declaration is not an instruction.
		text := strings.TrimSpace(m[1])
		if text == "" || strings.HasPrefix(text, "local[") {
			continue
		}
		c.Instructions++
		if text == "loop" || strings.HasPrefix(text, "loop ") {
			c.Loops++
		}
	}
	require.NoError(t, s.Err())
	return c, true
}

// counts is what Decode found in the same terms.
func counts(m *Module) objdumpCounts {
	c := objdumpCounts{Functions: len(m.Code)}
	for _, code := range m.Code {
		c.Loops += int(code.Loops)
		c.Instructions += int(code.Instructions)
	}
	return c
}

var (
	realOnce sync.Once
	real     map[string][]byte
	realErr  error
)

// realModules returns every real module the limits are measured on: the
// fixtures of host/testdata (refusedFixtures among them), the demo's Go
// module, and, unless -short, the
// Go guest of host/testdata/goguest and the example factories built as
// the Makefile's "make examples" does.
func realModules(t testing.TB) map[string][]byte {
	t.Helper()
	root, err := wasmbuild.RepoRoot()
	require.NoError(t, err)
	mods := map[string][]byte{}
	for _, pattern := range []string{"host/testdata/*.wasm", "host/testdata/hostile/*.wasm", "host/testdata/hostile/compile/*.wasm",
		"cmd/wasmreg/internal/demo/*.wasm"} {
		paths, err := filepath.Glob(filepath.Join(root, pattern))
		require.NoError(t, err)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			rel, _ := filepath.Rel(root, p)
			mods[rel] = b
		}
	}
	if testing.Short() {
		return mods
	}
	realOnce.Do(func() { real, realErr = buildReal(root) })
	if errors.Is(realErr, wasmbuild.ErrToolMissing) {
		t.Logf("some real modules are not built: %v", realErr)
	} else {
		require.NoError(t, realErr)
	}
	for k, v := range real {
		mods[k] = v
	}
	return mods
}

// buildReal builds the Go guest and the example factories.
func buildReal(root string) (map[string][]byte, error) {
	ctx := context.Background()
	mods := map[string][]byte{}
	var missing error
	add := func(name string, build func(out string) error) error {
		path, err := wasmbuild.Shared.Get("wasmbin-"+strings.ReplaceAll(name, "/", "-"), build)
		if errors.Is(err, wasmbuild.ErrToolMissing) {
			missing = err
			return nil
		}
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		mods[name] = b
		return err
	}
	goBuild := func(dir, pkg string) func(string) error {
		return func(out string) error { return wasmbuild.Go(ctx, filepath.Join(root, dir), pkg, out) }
	}
	cBuild := func(src ...string) func(string) error {
		return func(out string) error {
			return wasmbuild.C(ctx, src, []string{filepath.Join(root, "guest-sdk", "c")}, out, "-msimd128")
		}
	}
	// Unoptimised C makes a local of every value: the most locals real
	// code has.
	cBuildO0 := func(src ...string) func(string) error {
		return func(out string) error {
			return wasmbuild.C(ctx, src, []string{filepath.Join(root, "guest-sdk", "c")}, out, "-msimd128", "-O0")
		}
	}
	glob := func(pattern string) []string {
		p, _ := filepath.Glob(filepath.Join(root, pattern))
		sort.Strings(p)
		return p
	}
	steps := []struct {
		name  string
		build func(string) error
	}{
		{"host/testdata/goguest", goBuild(".", "./host/testdata/goguest")},
		{"factories/linear", goBuild(".", "./examples/factories/linear")},
		{"factories/mlp", goBuild(".", "./examples/factories/mlp")},
		{"factories/greeter", goBuild("guest-sdk/go", "./example/minimal")},
		{"factories/centroid", cBuild(glob("examples/factories/centroid/*.c")...)},
		{"factories/mlpc", cBuild(glob("examples/factories/mlpc/*.c")...)},
		{"factories/scale", cBuild(filepath.Join(root, "guest-sdk/c/example/minimal.c"))},
		{"factories/centroid-O0", cBuildO0(glob("examples/factories/centroid/*.c")...)},
		{"factories/mlpc-O0", cBuildO0(glob("examples/factories/mlpc/*.c")...)},
	}
	for _, s := range steps {
		if err := add(s.name, s.build); err != nil {
			return nil, err
		}
	}
	return mods, missing
}

// TestMain removes what wasmbuild built.
func TestMain(m *testing.M) {
	code := m.Run()
	_ = wasmbuild.Shared.Cleanup()
	os.Exit(code)
}
