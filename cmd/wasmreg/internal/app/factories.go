package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/urfave/cli/v2"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/oci"
	"github.com/wasmreg/wasmreg/registry"
)

// module is a factory module file loaded by a host.
type module struct {
	path    string
	wasm    []byte
	factory *host.Factory
	err     error // why it could not be loaded; factory is nil then
}

// catalog is the factories of a directory: every *.wasm file in it, loaded
// by its host, and registered under its metadata's name@version.
type catalog struct {
	dir       string
	host      *host.Host // loaded the factories; the catalog's user closes it
	pin       digestPin  // what the host was pinned to
	reg       *registry.Registry
	byName    map[string]*module // full name → module
	loaded    []*module          // sorted by full name
	skipped   []*module          // broken or duplicate, sorted by path
	unmatched int                // modules passed over for their sha256 (scanOptions.digest)
}

// scanOptions say which modules of a directory scanDir may compile.
type scanOptions struct {
	sizeLimit     int    // --module-size-limit
	allowUnlocked bool   // --allow-unlocked: ignore the lock file
	digest        string // --sha256: compile only the module with this digest; "" for any
}

// scanFlags returns the scan options of the command's flags, without a
// digest, once the host has checked the limit flags (the size limit is one
// of them).
func scanFlags(cCtx *cli.Context) (scanOptions, error) {
	if err := checkLimitFlags(cCtx); err != nil {
		return scanOptions{}, err
	}
	limit, err := sizeFlag(cCtx, flagModuleLimit)
	return scanOptions{sizeLimit: limit, allowUnlocked: cCtx.Bool(flagAllowUnlocked)}, err
}

// scanDir loads every *.wasm file of dir with a new inspection host (see
// newInspectionHost) with the extra options. It fails only if dir cannot
// be read or the host cannot be made: a module that does not load, or
// that has the name@version of a module already found (in file name
// order), is skipped with its reason. Modules load in parallel: compiling
// is most of the work, and a Host compiles concurrently. The caller closes
// the catalog's host.
//
// Before anything is compiled, each file is checked: only a regular file
// (no symbolic link, FIFO, device or directory) no larger than the size
// limit is read; the host is pinned to the digests of dir's lock file, if
// it has one, unless allowUnlocked, and to opts.digest, so that it refuses
// a module not listed or whose sha256 changed, which is skipped with that
// reason, and passes over every module but the one with the digest,
// uncompiled. (The pin is the lock's digests, not each file's own: a file
// holding the contents of another file that the lock lists loads.)
func scanDir(cCtx *cli.Context, dir string, opts scanOptions, extra ...host.Option) (*catalog, error) {
	l, locked, err := readLock(dir)
	if err != nil {
		return nil, err
	}
	if !locked || opts.allowUnlocked {
		l = nil
	}
	pin := dirPin(l, opts.digest)
	h, err := newInspectionHost(cCtx, append(slices.Clone(extra), pin.options()...)...)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		closeHost(cCtx, h)
		return nil, fmt.Errorf("read factories directory: %w (set --%s or WASMREG_DIR)", err, flagDir)
	}
	var mods []*module
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".wasm") {
			mods = append(mods, &module{path: filepath.Join(dir, e.Name())})
		}
	}

	var wg sync.WaitGroup
	var unmatched atomic.Int64
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, m := range mods {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			m.wasm, m.err = readModuleFile(m.path, opts.sizeLimit, false)
			if m.err != nil {
				return
			}
			m.factory, m.err = h.Load(cCtx.Context, m.wasm)
			if !errors.Is(m.err, host.ErrDigestMismatch) {
				return
			}
			// Refused for its digest, before it was compiled: say why.
			var sm *sha256Mismatch
			if why := pin.check(filepath.Base(m.path), host.Digest(m.wasm)); errors.As(why, &sm) {
				m.wasm, m.err = nil, errUnmatched
				unmatched.Add(1)
			} else if why != nil {
				m.err = lockRefusal{why}
			}
		})
	}
	wg.Wait()

	c := &catalog{dir: dir, host: h, pin: pin, reg: registry.New(), byName: map[string]*module{}, unmatched: int(unmatched.Load())}
	for _, m := range mods { // in file name order, so the first duplicate wins
		if errors.Is(m.err, errUnmatched) {
			continue
		}
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

// lockRefusal is why a module of a scanned directory was refused: its
// directory's lock file does not list it, or lists another sha256.
type lockRefusal struct{ err error }

func (e lockRefusal) Error() string { return e.err.Error() }
func (e lockRefusal) Unwrap() error { return e.err }

// lockRefused returns the modules that c's lock file refused, and, for
// each, whether the lock lists it (with another sha256).
func (c *catalog) lockRefused() (files []string, listed []bool) {
	for _, m := range c.skipped {
		var lr lockRefusal
		if !errors.As(m.err, &lr) {
			continue
		}
		file := filepath.Base(m.path)
		inLock := false
		for _, r := range c.pin.locks {
			if _, ok := r.lock[file]; ok {
				inLock = true
			}
		}
		files, listed = append(files, file), append(listed, inLock)
	}
	return files, listed
}

// lockHint says which modules the lock file of c refused, for the error of
// a name that was not found: the module it names may be one of them, and
// the warning that said so may be far above. base is the name's base.
func (c *catalog) lockHint(base string) string {
	files, listed := c.lockRefused()
	if len(files) == 0 {
		return ""
	}
	parts := make([]string, len(files))
	maybe := ""
	for i, f := range files {
		why := "not listed"
		if listed[i] {
			why = "changed since it was locked"
		}
		parts[i] = fmt.Sprintf("%s (%s)", f, why)
		if strings.EqualFold(strings.TrimSuffix(f, ".wasm"), base) {
			maybe = fmt.Sprintf("; %s may be the one: ", f)
		}
	}
	if maybe == "" {
		maybe = "; if one of them is the one, "
	} else {
		maybe += "if you trust it, "
	}
	return fmt.Sprintf("; %s refused by %s: %s%srun 'wasmreg lock --%s %s' or pass --%s",
		plural(len(files), "module"), LockFile, strings.Join(parts, ", "), maybe, flagDir, c.dir, flagAllowUnlocked)
}

// errUnmatched marks a module passed over for its sha256.
var errUnmatched = errors.New("sha256 differs from --" + flagSHA256)

// warnSkipped writes one warning line per skipped module.
func (c *catalog) warnSkipped(cCtx *cli.Context) {
	for _, m := range c.skipped {
		warnf(cCtx.App.ErrWriter, "skipping %s: %w", m.path, m.err)
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

// moduleRequest is what a command asks findModule for.
type moduleRequest struct {
	arg    string        // the FACTORY argument
	digest string        // --sha256, or ""
	grants []host.Option // what the user granted, for the start code of the modules a name lookup loads
}

// foundModule is the module a FACTORY argument names.
type foundModule struct {
	path string
	wasm []byte
	// pin is what its sha256 may be: the host that loads it must be made
	// with pin.options(), and a failed load reported with pin.refusal.
	pin digestPin
}

// findModule returns the module a FACTORY argument names: a file, or a
// factory name (case-insensitive, optionally name@version; a bare name is
// its highest version) registered from the *.wasm files of --dir. The
// module's size is checked before it is read whole, and its directory's
// lock file and --sha256 become the pin that the host loading it checks
// before compiling anything.
//
// A name is looked up on a host that grants only what the user granted and
// accepts modules that need more, so that a module the command's grants
// would refuse is still found, and refused later with a message saying
// which grant it needs, while the start code of the directory's other
// modules gets nothing the user did not grant. With --sha256, no other
// module is compiled at all.
func findModule(cCtx *cli.Context, req moduleRequest) (foundModule, error) {
	scan, err := scanFlags(cCtx)
	if err != nil {
		return foundModule{}, err
	}
	scan.digest = req.digest
	arg := req.arg
	if oci.IsReference(arg) {
		path, wasm, pin, err := ResolveFactoryRef(cCtx, arg, req.digest, scan.sizeLimit)
		return foundModule{path: path, wasm: wasm, pin: pin}, err
	}
	if st, statErr := os.Stat(arg); statErr == nil && !st.IsDir() || looksLikePath(arg) {
		if statErr == nil && st.IsDir() {
			return foundModule{}, fmt.Errorf("factory module %s is a directory", arg)
		}
		wasm, err := readModuleFile(arg, scan.sizeLimit, true)
		if err != nil {
			return foundModule{}, relativeHint(cCtx, arg, err)
		}
		pin, err := pathPin(arg, scan.allowUnlocked, req.digest)
		if err != nil {
			return foundModule{}, err
		}
		return foundModule{path: arg, wasm: wasm, pin: pin}, nil
	}
	if _, _, err := registry.ParseName(arg); err != nil {
		return foundModule{}, fmt.Errorf("%q is neither a file nor a factory name: %w", arg, err)
	}
	return findByName(cCtx, scan, req)
}

// findByName is findModule for a factory name, looked up in --dir only.
func findByName(cCtx *cli.Context, scan scanOptions, req moduleRequest) (foundModule, error) {
	arg := req.arg
	dir := cCtx.String(flagDir)
	c, err := scanDir(cCtx, dir, scan, req.grants...)
	if err != nil {
		return foundModule{}, fmt.Errorf("look up factory %q: %w", arg, err)
	}
	defer closeHost(cCtx, c.host)
	c.warnSkipped(cCtx)
	full, _, err := c.reg.Resolve(arg)
	if err != nil {
		found := "none"
		if names := c.names(); len(names) > 0 {
			found = strings.Join(names, ", ")
		}
		if req.digest != "" {
			return foundModule{}, fmt.Errorf("factory %q with sha256 %s not found in %s (found with that sha256: %s; %s passed over); give a .wasm file or set --%s",
				arg, req.digest, dir, found, plural(c.unmatched, "other module"), flagDir)
		}
		base, _, _ := strings.Cut(arg, "@")
		return foundModule{}, fmt.Errorf("factory %q not found in %s (found: %s)%s; give a .wasm file or set --%s",
			arg, dir, found, c.lockHint(base), flagDir)
	}
	m := c.byName[full]
	return foundModule{path: m.path, wasm: m.wasm, pin: c.pin}, nil
}

// relativeHint adds to err, the error of reading the module file at path,
// that a relative path is relative to the current directory, not to
// --dir, when path does not exist: `wasmreg --dir build/factories run
// scale.wasm` reads ./scale.wasm. If the file is in --dir, it says so.
func relativeHint(cCtx *cli.Context, path string, err error) error {
	if filepath.IsAbs(path) {
		return err
	}
	if _, statErr := os.Lstat(path); !errors.Is(statErr, fs.ErrNotExist) {
		return err
	}
	hint := fmt.Sprintf("a .wasm path is relative to the current directory, not to --%s", flagDir)
	dir := cCtx.String(flagDir)
	if inDir := filepath.Join(dir, path); dir != "" {
		if st, statErr := os.Stat(inDir); statErr == nil && st.Mode().IsRegular() {
			hint += fmt.Sprintf("; %s is there: give that path, or the factory's name (see 'wasmreg list --%s %s')", inDir, flagDir, dir)
		}
	}
	return fmt.Errorf("%w (%s)", err, hint)
}
