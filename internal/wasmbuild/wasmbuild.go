// Package wasmbuild builds guest factories into WebAssembly modules, with
// Go's own wasip1 port or with clang and wasi-libc. Tests and the Makefile's
// helpers use it so that every factory is built the same way.
//
// Its functions are safe for concurrent use: each builds into its own
// output file.
package wasmbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// ErrToolMissing means a compiler the build needs is not installed.
var ErrToolMissing = errors.New("wasmbuild: tool missing")

// GoTool returns the path of the go command that runs this program,
// falling back to the one on PATH.
func GoTool() string {
	//lint:ignore SA1019 the go command that runs this program is wanted, and no other API names it
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Go builds the Go main package pkg (a path such as "./examples/factories/linear")
// of the module in moduleDir into out with GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared.
func Go(ctx context.Context, moduleDir, pkg, out string) error {
	cmd := exec.CommandContext(ctx, GoTool(), "build", "-buildmode=c-shared", "-trimpath", "-o", out, pkg)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	return run(cmd, "go build "+pkg)
}

// Clang finds Debian's clang able to target wasm32-wasi.
func Clang() (string, error) {
	for _, name := range []string{"clang", "clang-14", "clang-15", "clang-16"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: clang (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)", ErrToolMissing)
}

// C compiles the C sources into a reactor module at out with clang
// --target=wasm32-wasi -mexec-model=reactor, adding includeDirs to the
// include path. extraFlags go before the sources.
func C(ctx context.Context, sources []string, includeDirs []string, out string, extraFlags ...string) error {
	clang, err := Clang()
	if err != nil {
		return err
	}
	// --stack-first puts C's stack below the data, so that an overflow
	// traps instead of silently overwriting static data.
	args := []string{"--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-Wall", "-Werror",
		"-Wl,--stack-first", "-Wl,--strip-debug"}
	for _, d := range includeDirs {
		args = append(args, "-I", d)
	}
	args = append(args, extraFlags...)
	args = append(args, "-o", out)
	args = append(args, sources...)
	return run(exec.CommandContext(ctx, clang, args...), "clang "+strings.Join(sources, " "))
}

// WAT assembles a WebAssembly text file with wabt's wat2wasm.
func WAT(ctx context.Context, src, out string) error {
	tool, err := exec.LookPath("wat2wasm")
	if err != nil {
		return fmt.Errorf("%w: wat2wasm (apt-get install wabt)", ErrToolMissing)
	}
	return run(exec.CommandContext(ctx, tool, src, "-o", out), "wat2wasm "+src)
}

func run(cmd *exec.Cmd, what string) error {
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("wasmbuild: %s: %w\n%s", what, err, strings.TrimSpace(buf.String()))
	}
	return nil
}

// Cache builds each target at most once per process, into one temporary
// directory. It is safe for concurrent use.
type Cache struct {
	mu    sync.Mutex // guards the fields below
	dir   string
	built map[string]*entry
}

type entry struct {
	once sync.Once
	path string
	err  error
}

// Shared is the process-wide cache tests use.
var Shared = &Cache{}

// Cleanup removes the cache's directory. Call it when no built module is
// needed any more, such as at the end of TestMain.
func (c *Cache) Cleanup() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir == "" {
		return nil
	}
	err := os.RemoveAll(c.dir)
	c.dir, c.built = "", nil
	return err
}

// Get returns the path of the module named name, building it with build
// (given the output path) the first time.
func (c *Cache) Get(name string, build func(out string) error) (string, error) {
	c.mu.Lock()
	if c.built == nil {
		c.built = map[string]*entry{}
	}
	if c.dir == "" {
		dir, err := os.MkdirTemp("", "wasmbuild-")
		if err != nil {
			c.mu.Unlock()
			return "", fmt.Errorf("wasmbuild: %w", err)
		}
		c.dir = dir
	}
	e, ok := c.built[name]
	if !ok {
		e = &entry{path: filepath.Join(c.dir, name+".wasm")}
		c.built[name] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.err = build(e.path) })
	return e.path, e.err
}

// RepoRoot returns the repository root (the directory holding the main
// go.mod) found from the working directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/wasmreg/wasmreg\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("wasmbuild: repository root not found")
		}
		dir = parent
	}
}

// CFactory builds the C factory at source (relative to the repository
// root) against guest-sdk/c with extraFlags, once per process under name in
// c, and returns the module. The error wraps ErrToolMissing when clang for
// wasm32-wasi is not installed. It is safe for concurrent use.
func (c *Cache) CFactory(ctx context.Context, name, source string, extraFlags ...string) ([]byte, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	path, err := c.Get(name, func(out string) error {
		return C(ctx, []string{filepath.Join(root, source)}, []string{filepath.Join(root, "guest-sdk", "c")}, out, extraFlags...)
	})
	if err != nil {
		return nil, err
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("wasmbuild: read %s: %w", name, err)
	}
	return wasm, nil
}

// Cargo finds Debian's cargo and rustc (/usr/bin), which have the
// wasm32-wasi standard library (libstd-rust-dev-wasm32); a rustup cargo
// that may come first on PATH has not.
func Cargo() (cargo, rustc string, err error) {
	cargo, rustc = "/usr/bin/cargo", "/usr/bin/rustc"
	if !fileExists(cargo) || !fileExists(rustc) || !fileExists("/usr/lib/rustlib/wasm32-wasi") {
		return "", "", fmt.Errorf("%w: Debian's cargo for wasm32-wasi (apt-get install rustc cargo libstd-rust-dev-wasm32 lld)", ErrToolMissing)
	}
	return cargo, rustc, nil
}

// RustFactory builds the cdylib crate in crateDir (relative to the
// repository root) for wasm32-wasi in release mode, with cargo's output
// cached in build/cargo, once per process under name in c, and returns the
// module. The crate's library must be named lib (its [package] name with
// '-' as '_'). The error wraps ErrToolMissing when Debian's Rust toolchain
// is not installed. It is safe for concurrent use.
func (c *Cache) RustFactory(ctx context.Context, name, crateDir, lib string) ([]byte, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	cargo, rustc, err := Cargo()
	if err != nil {
		return nil, err
	}
	target := filepath.Join(root, "build", "cargo")
	path, err := c.Get(name, func(out string) error {
		cmd := exec.CommandContext(ctx, cargo, "build", "--offline", "--release", "--target", "wasm32-wasi")
		cmd.Dir = filepath.Join(root, crateDir)
		cmd.Env = append(os.Environ(), "RUSTC="+rustc, "CARGO_TARGET_DIR="+target)
		if err := run(cmd, "cargo build "+crateDir); err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(target, "wasm32-wasi", "release", lib+".wasm"))
		if err != nil {
			return fmt.Errorf("wasmbuild: %w", err)
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		return nil, err
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("wasmbuild: read %s: %w", name, err)
	}
	return wasm, nil
}

// ASFactory compiles the AssemblyScript entry file source (relative to
// guest-sdk/assemblyscript) with the package's pinned asc and asconfig.json
// (release target, the SDK's abort handler), once per process under name
// in c, and returns the module. The error wraps ErrToolMissing when node or
// the package's node_modules (make deps: npm ci) are missing. It is safe
// for concurrent use.
func (c *Cache) ASFactory(ctx context.Context, name, source string) ([]byte, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "guest-sdk", "assemblyscript")
	asc := filepath.Join(dir, "node_modules", "assemblyscript", "bin", "asc.js")
	node, err := exec.LookPath("node")
	if err != nil || !fileExists(asc) {
		return nil, fmt.Errorf("%w: node and asc (apt-get install nodejs npm; cd guest-sdk/assemblyscript && npm ci)", ErrToolMissing)
	}
	path, err := c.Get(name, func(out string) error {
		cmd := exec.CommandContext(ctx, node, asc, source, "--config", "asconfig.json", "--target", "release", "-o", out)
		cmd.Dir = dir
		return run(cmd, "asc "+source)
	})
	if err != nil {
		return nil, err
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("wasmbuild: read %s: %w", name, err)
	}
	return wasm, nil
}
