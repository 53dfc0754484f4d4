package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/registry"
)

// module is a factory module file loaded by a host.
type module struct {
	path    string
	wasm    []byte
	factory *host.Factory
	err     error // why it could not be loaded; factory is nil then
}

// catalog is the factories of a directory: every *.wasm file in it, loaded,
// and registered under its metadata's name@version.
type catalog struct {
	dir     string
	reg     *registry.Registry
	byName  map[string]*module // full name → module
	loaded  []*module          // sorted by full name
	skipped []*module          // broken or duplicate, sorted by path
}

// scanDir loads every *.wasm file of dir with h. It fails only if dir cannot
// be read: a module that does not load, or that has the name@version of a
// module already found (in file name order), is skipped with its reason.
// Modules load in parallel: compiling is most of the work, and a Host
// compiles concurrently.
//
// If dir has a lock file, a module not listed in it or whose sha256 differs
// is skipped with that reason, unless allowUnlocked.
func scanDir(ctx context.Context, h *host.Host, dir string, allowUnlocked bool) (*catalog, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read factories directory: %w (set --%s or WASMREG_DIR)", err, flagDir)
	}
	l, locked, err := readLock(dir)
	if err != nil {
		return nil, err
	}
	locked = locked && !allowUnlocked
	var mods []*module
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".wasm") && (e.Type().IsRegular() || e.Type()&os.ModeSymlink != 0) {
			mods = append(mods, &module{path: filepath.Join(dir, e.Name())})
		}
	}

	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, m := range mods {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			m.wasm, m.err = os.ReadFile(m.path)
			if m.err == nil && locked {
				m.err = l.check(filepath.Base(m.path), m.wasm)
			}
			if m.err == nil {
				m.factory, m.err = h.Load(ctx, m.wasm)
			}
		})
	}
	wg.Wait()

	c := &catalog{dir: dir, reg: registry.New(), byName: map[string]*module{}}
	for _, m := range mods { // in file name order, so the first duplicate wins
		if m.err == nil {
			if prev, dup := c.byName[m.factory.Name()]; dup {
				m.err = fmt.Errorf("%s is also in %s; skipped", m.factory.Name(), filepath.Base(prev.path))
			} else if err := c.reg.Register(m.factory.Name(), m.factory); err != nil {
				m.err = err
			}
		}
		if m.err != nil {
			c.skipped = append(c.skipped, m)
			continue
		}
		c.byName[m.factory.Name()] = m
		c.loaded = append(c.loaded, m)
	}
	order := map[string]int{}
	for i, n := range c.reg.Names() {
		order[n] = i
	}
	slices.SortFunc(c.loaded, func(a, b *module) int { return order[a.factory.Name()] - order[b.factory.Name()] })
	return c, nil
}

// warnSkipped writes one warning line per skipped module.
func (c *catalog) warnSkipped(cCtx *cli.Context) {
	for _, m := range c.skipped {
		warnf(cCtx.App.ErrWriter, "skipping %s: %s", m.path, trimHost(m.err.Error()))
	}
}

// names returns the full names of the loaded modules.
func (c *catalog) names() []string {
	names := make([]string, len(c.loaded))
	for i, m := range c.loaded {
		names[i] = m.factory.Name()
	}
	return names
}

// looksLikePath reports whether a FACTORY argument names a file rather
// than a registered factory.
func looksLikePath(arg string) bool {
	return strings.HasSuffix(strings.ToLower(arg), ".wasm") || strings.ContainsAny(arg, `/\`) ||
		arg == "." || arg == ".."
}

// findModule returns the path and contents of the module a FACTORY
// argument names: a file, or a factory name (case-insensitive, optionally
// name@version; a bare name is its highest version) registered from the
// *.wasm files of --dir. Names are looked up with every capability granted,
// so that a module the command's grants would refuse is still found, and
// refused later with a message saying which grant it needs.
func findModule(cCtx *cli.Context, arg string) (path string, wasm []byte, err error) {
	if st, statErr := os.Stat(arg); statErr == nil && !st.IsDir() {
		wasm, err := os.ReadFile(arg)
		if err != nil {
			return "", nil, fmt.Errorf("read factory module: %w", err)
		}
		return arg, wasm, nil
	} else if looksLikePath(arg) {
		if statErr == nil {
			return "", nil, fmt.Errorf("factory module %s is a directory", arg)
		}
		if errors.Is(statErr, fs.ErrNotExist) {
			return "", nil, fmt.Errorf("factory module %s does not exist", arg)
		}
		return "", nil, fmt.Errorf("read factory module: %w", statErr)
	}
	if _, _, err := registry.ParseName(arg); err != nil {
		return "", nil, fmt.Errorf("%q is neither a file nor a factory name: %w", arg, err)
	}

	dir := cCtx.String(flagDir)
	h, err := newHost(cCtx, host.WithGrants(host.Capabilities()...))
	if err != nil {
		return "", nil, err
	}
	defer closeHost(cCtx, h)
	c, err := scanDir(cCtx.Context, h, dir, cCtx.Bool(flagAllowUnlocked))
	if err != nil {
		return "", nil, fmt.Errorf("look up factory %q: %w", arg, err)
	}
	c.warnSkipped(cCtx)
	full, _, err := c.reg.Resolve(arg)
	if err != nil {
		found := "none"
		if names := c.names(); len(names) > 0 {
			found = strings.Join(names, ", ")
		}
		return "", nil, fmt.Errorf("factory %q not found in %s (found: %s); give a .wasm file or set --%s",
			arg, dir, found, flagDir)
	}
	m := c.byName[full]
	return m.path, m.wasm, nil
}
