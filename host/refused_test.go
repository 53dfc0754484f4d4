package host_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
)

// assemble turns the WAT src into a module with wabt's wat2wasm, which make
// deps installs.
func assemble(t testing.TB, src string) []byte {
	t.Helper()
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Fatal("wat2wasm (wabt) is not installed: run make deps")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	require.NoError(t, os.WriteFile(in, []byte(src), 0o644))
	b, err := exec.Command("wat2wasm", in, "-o", out).CombinedOutput()
	require.NoError(t, err, "wat2wasm: %s", b)
	wasm, err := os.ReadFile(out)
	require.NoError(t, err)
	return wasm
}

// refusedModule is a factory with imports, metadata written by
// wasmreg_info after body runs, and exports: the ABI's four unless
// exports is given.
func refusedModule(imports, metadata, body, exports string) string {
	if exports == "" {
		exports = `(func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_build") (param i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param i32) (result i32) (i32.const 0))`
	}
	return `(module
  (import "wasmreg" "output" (func $output (param i32 i32)))
  ` + imports + `
  (memory (export "memory") 1)
  (data (i32.const 0) "` + strings.ReplaceAll(metadata, `"`, `\"`) + `")
  (func (export "wasmreg_info") (result i32)
    ` + body + `
    (call $output (i32.const 0) (i32.const ` + strconv.Itoa(len(metadata)) + `))
    (i32.const 0))
  ` + exports + `)`
}

// problem is one expected problem of a ModuleError: its sentinel and a
// part of its text.
type problem struct {
	kind error
	text string
}

// assertProblems checks that err is a *ModuleError of want's problems.
// It uses assert only, so that other goroutines than the test's may call it.
func assertProblems(t *testing.T, err error, want []problem) {
	t.Helper()
	var me *host.ModuleError
	if !assert.ErrorAs(t, err, &me) || !assert.Len(t, me.Problems, len(want), "%v", err) {
		return
	}
	for i, w := range want {
		assert.ErrorIs(t, me.Problems[i], w.kind, "problem %d", i)
		assert.Contains(t, me.Problems[i].Error(), w.text, "problem %d", i)
	}
}

// TestValidateRefusedMetadata: Validate lists a refused module's import and
// export problems and then its metadata's, as Load lists them for a module
// whose imports and exports are right; Load itself stops at the first set.
func TestValidateRefusedMetadata(t *testing.T) {
	// A small output limit, so that the flood meets it long before the
	// call timeout, under -race too.
	h, _ := newHost(t, host.WithCallTimeout(500*time.Millisecond), host.WithOutputLimit(1<<20))
	const badVersion = `{"name":"m","version":"1.0"}`
	tests := []struct {
		name   string
		wat    string
		module string // ModuleError.Module's start
		load   int    // how many problems Load reports
		want   []problem
	}{
		{"unknown import", refusedModule(`(import "wasmreg" "frobnicate" (func (param i32)))`, badVersion, "", ""), "sha256:", 1, []problem{
			{host.ErrUnknownImport, "wasmreg.frobnicate is not part of ABI v1"},
			{host.ErrBadMetadata, `wasmreg_info: field "version": version "1.0" is not a strict semantic version`},
		}},
		{"mistyped import", refusedModule(`(import "wasmreg" "log" (func (param i32)))`, `{"name":"m","version":"1.0.0","capabilities":["teleport"]}`, "", ""), "m@1.0.0 (sha256:", 1, []problem{
			{host.ErrMistypedImport, "wasmreg.log is imported as (i32) -> ()"},
			{host.ErrUnknownCapability, `field "capabilities"[0] "teleport"`},
		}},
		{"missing exports", refusedModule("", `{"name":"m","version":"1.0.0","tensors":{"inputs":[{"name":"x","datatype":"F","shape":[-3]}]}}`, "",
			`(func (export "wasmreg_build") (param i32) (result i32) (i32.const 0))`), "m@1.0.0 (sha256:", 2, []problem{
			{host.ErrMissingExport, "function wasmreg_abi_version () -> i32 is not exported"},
			{host.ErrMissingExport, "function wasmreg_predict (len: i32) -> i32 is not exported"},
			{host.ErrBadMetadata, `tensors.inputs[0].datatype (tensor "x"): "F" is not one of`},
			{host.ErrBadMetadata, `tensors.inputs[0].shape[0] (tensor "x"): -3 is not -1 (variable) or 0 to 16777216`},
		}},
		{"right metadata", refusedModule(`(import "env" "abort" (func (param i32 i32 i32 i32)))`, `{"name":"m","version":"1.0.0"}`, "", ""), "m@1.0.0 (sha256:", 1, []problem{
			{host.ErrUnknownImport, `env.abort: module "env" is not provided`},
		}},
		{"stub called", refusedModule(`(import "env" "abort" (func $abort))`, `{"name":"m","version":"1.0.0"}`, "(call $abort)", ""), "sha256:", 1, []problem{
			{host.ErrUnknownImport, `env.abort: module "env" is not provided`},
			{host.ErrTrap, `export wasmreg_info: host: unknown import: the guest called env.abort, which the host does not provide as the module imports it`},
		}},
		{"mistyped WASI stub called", refusedModule(`(import "wasi_snapshot_preview1" "fd_write" (func $w (param i32) (result i32)))`, `{"name":"m","version":"1.0.0"}`, "(drop (call $w (i32.const 1)))", ""), "sha256:", 1, []problem{
			{host.ErrMistypedImport, "wasi_snapshot_preview1.fd_write is imported as (i32) -> (i32)"},
			{host.ErrTrap, `host: mistyped import: the guest called wasi_snapshot_preview1.fd_write, which the host does not provide`},
		}},
		// The sandbox has the host's limits: the call timeout, the output limit.
		{"spins", refusedModule(`(import "wasmreg" "frobnicate" (func))`, `{}`, "(loop $l (br $l))", ""), "sha256:", 1, []problem{
			{host.ErrUnknownImport, "wasmreg.frobnicate"},
			{host.ErrTimeout, "export wasmreg_info: stopped at the time limit: the call timeout of 500ms"},
		}},
		{"output over the limit", refusedModule(`(import "wasmreg" "frobnicate" (func))`, `{}`, "(loop $l (call $output (i32.const 0) (i32.const 65536)) (br $l))", ""), "sha256:", 1, []problem{
			{host.ErrUnknownImport, "wasmreg.frobnicate"},
			{host.ErrOutputLimit, "wasmreg_info wrote more than"},
		}},
		{"recurses", refusedModule(`(import "wasmreg" "frobnicate" (func))`, `{}`, "(call $deep)", `(func $deep (call $deep))
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_build") (param i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param i32) (result i32) (i32.const 0))`), "sha256:", 1, []problem{
			{host.ErrUnknownImport, "wasmreg.frobnicate"},
			{host.ErrStackOverflow, "stack overflow"},
		}},
		{"unsupported ABI version", refusedModule(`(import "wasmreg" "frobnicate" (func))`, `{}`, "", `(func (export "wasmreg_abi_version") (result i32) (i32.const 7))
  (func (export "wasmreg_predict") (param i32) (result i32) (i32.const 0))`), "sha256:", 2, []problem{
			{host.ErrMissingExport, "function wasmreg_build (len: i32) -> i32 is not exported"},
			{host.ErrUnknownImport, "wasmreg.frobnicate"},
			{host.ErrABIVersion, "wasmreg_abi_version returned 7"},
		}},
		// Hostile names are shown sanitised, in the stub's trap too.
		{"hostile import name", refusedModule(`(import "e\1b[2J\n" "f\00" (func $f))`, `{}`, "(call $f)", ""), "sha256:", 1, []problem{
			{host.ErrUnknownImport, `module "e\x1b[2J\x0a" is not provided`},
			{host.ErrTrap, `the guest called e\x1b[2J\x0a.f\x00, which`},
		}},
		// Not asked: no function can stand in for these imports.
		{"one name, two types", refusedModule(`(import "env" "f" (func)) (import "env" "f" (func (param i32)))`, `{}`, "", ""), "sha256:", 2, []problem{
			{host.ErrUnknownImport, "env.f"},
			{host.ErrUnknownImport, "env.f"},
		}},
		{"imported global", refusedModule(`(import "env" "g" (global i32))`, `{}`, "", ""), "sha256:", 1, []problem{
			{host.ErrUnknownImport, "global env.g: a factory may import only functions"},
		}},
		{"no wasmreg_info", `(module (import "env" "f" (func)) (memory (export "memory") 1)
  (func (export "wasmreg_abi_version") (result i32) (i32.const 1))
  (func (export "wasmreg_build") (param i32) (result i32) (i32.const 0))
  (func (export "wasmreg_predict") (param i32) (result i32) (i32.const 0)))`, "sha256:", 2, []problem{
			{host.ErrMissingExport, "function wasmreg_info () -> i32 is not exported"},
			{host.ErrUnknownImport, "env.f"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wasm := assemble(t, tc.wat)
			f, err := h.Validate(context.Background(), wasm)
			require.Nil(t, f)
			assertProblems(t, err, tc.want)
			var me *host.ModuleError
			require.ErrorAs(t, err, &me)
			assert.True(t, strings.HasPrefix(me.Module, tc.module), me.Module)
			assert.Contains(t, me.Module, "sha256:"+host.Digest(wasm)[:12])

			// Load reports the imports' and exports' problems only.
			_, lerr := h.Load(context.Background(), wasm)
			assertProblems(t, lerr, tc.want[:tc.load])
		})
	}
}

// TestValidateLoadsGoodModule: on a module Load accepts, Validate returns
// the same factory, which works.
func TestValidateLoadsGoodModule(t *testing.T) {
	h, _ := newHost(t)
	f, err := h.Validate(context.Background(), fixture(t, "echo.wasm"))
	require.NoError(t, err)
	defer f.Close(context.Background())
	assert.Equal(t, "echo@1.0.0", f.Name())
	m, err := f.Build(context.Background(), nil)
	require.NoError(t, err)
	defer m.Close(context.Background())
	out, err := m.Predict(context.Background(), []byte("hi"))
	require.NoError(t, err)
	assert.Equal(t, "{}", string(out), "echo answers with its config")

	// A module refused for its metadata alone is refused as Load refuses it.
	_, verr := h.Validate(context.Background(), fixture(t, "bad_version.wasm"))
	_, lerr := h.Load(context.Background(), fixture(t, "bad_version.wasm"))
	require.Error(t, lerr)
	assert.Equal(t, lerr.Error(), verr.Error())
}

// TestValidateRefusedContext: a done context stops the sandbox's read,
// and Validate returns at once with the imports' problems and why.
func TestValidateRefusedContext(t *testing.T) {
	h, _ := newHost(t, host.WithCallTimeout(0))
	wasm := assemble(t, refusedModule(`(import "wasmreg" "frobnicate" (func))`, `{}`, "(loop $l (br $l))", ""))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := h.Validate(ctx, wasm)
	assert.Less(t, time.Since(start), 10*time.Second)
	var me *host.ModuleError
	require.ErrorAs(t, err, &me)
	require.Len(t, me.Problems, 2, "%v", err)
	assert.ErrorIs(t, me.Problems[0], host.ErrUnknownImport)
	assert.True(t, errors.Is(me.Problems[1], host.ErrTimeout) || errors.Is(me.Problems[1], context.DeadlineExceeded), "%v", me.Problems[1])
}

// TestValidateRefusedHammer validates refused modules from many goroutines
// at once, under -race: each sandbox is its own, and each gets the whole
// list.
func TestValidateRefusedHammer(t *testing.T) {
	h, _ := newHost(t, host.WithMaxInstances(2))
	wasm := assemble(t, refusedModule(`(import "wasmreg" "frobnicate" (func))`, `{"name":"m","version":"1.0"}`, "", ""))
	const P, N = 4, 5
	var wg sync.WaitGroup
	for range P {
		wg.Go(func() {
			for range N {
				_, err := h.Validate(context.Background(), wasm)
				assertProblems(t, err, []problem{
					{host.ErrUnknownImport, "wasmreg.frobnicate"},
					{host.ErrBadMetadata, `field "version"`},
				})
			}
		})
	}
	wg.Wait()
}

// ExampleHost_Validate lists every problem of a module refused for an
// import: Load would stop at the import, Validate reads the metadata too.
func ExampleHost_Validate() {
	ctx := context.Background()
	h, _ := host.New(ctx)
	defer h.Close(ctx)
	wasm, _ := os.ReadFile("testdata/refused_metadata.wasm")
	_, err := h.Validate(ctx, wasm)
	var me *host.ModuleError
	if errors.As(err, &me) {
		for _, p := range me.Problems {
			fmt.Println(p)
		}
	}
	_, err = h.Load(ctx, wasm)
	fmt.Println(errors.As(err, &me), len(me.Problems))
	// Output:
	// host: unknown import: wasmreg.frobnicate is not part of ABI v1
	// host: bad metadata: wasmreg_info: field "version": version "1.0" is not a strict semantic version MAJOR.MINOR.PATCH[-PRERELEASE] (invalid semantic version); write "1.0.0"
	// host: unknown capability: wasmreg_info: field "capabilities"[0] "teleport" is not a capability this host knows ("artifact", "clock", "log", "random")
	// true 1
}

// TestValidateRefusedSharesSlots: the sandbox's instance takes one of this
// host's instance slots, so Validate cannot go past WithMaxInstances.
func TestValidateRefusedSharesSlots(t *testing.T) {
	h, _ := newHost(t, host.WithMaxInstances(1), host.WithCallTimeout(300*time.Millisecond))
	wasm := assemble(t, refusedModule(`(import "wasmreg" "frobnicate" (func))`, `{"name":"m","version":"1.0"}`, "", ""))
	f := load(t, h, "echo.wasm")
	defer f.Close(context.Background())
	m, err := f.Build(context.Background(), nil)
	require.NoError(t, err)

	_, err = h.Validate(context.Background(), wasm)
	assertProblems(t, err, []problem{
		{host.ErrUnknownImport, "wasmreg.frobnicate"},
		{host.ErrBusy, "all 1 instance slots are in use"},
	})

	require.NoError(t, m.Close(context.Background()))
	_, err = h.Validate(context.Background(), wasm)
	assertProblems(t, err, []problem{
		{host.ErrUnknownImport, "wasmreg.frobnicate"},
		{host.ErrBadMetadata, `field "version"`},
	})
}
