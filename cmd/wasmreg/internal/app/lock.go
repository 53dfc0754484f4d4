package app

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/oci"
	"github.com/wasmreg/wasmreg/internal/safetext"
)

// LockFile is the name of a factories directory's lock file: one line per
// module, "SHA256  FILE", as sha256sum prints it, so that
// `sha256sum *.wasm > wasmreg.lock` writes one too. Lines starting with #
// are comments.
const LockFile = "wasmreg.lock"

const flagAllowUnlocked = "allow-unlocked"

// lock maps a module's file name to its pinned sha256.
type lock map[string]string

// maxLockFile is the largest lock file read: some 100,000 modules.
const maxLockFile = 16 << 20

// readLock reads dir's lock file; ok is false if there is none. Like a
// module, it must be a regular file: a FIFO would block the read.
func readLock(dir string) (l lock, ok bool, err error) {
	path := filepath.Join(dir, LockFile)
	b, err := readRegular(path, maxLockFile, true)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	var big errTooLarge
	if errors.As(err, &big) {
		return nil, false, fmt.Errorf("%s is %d bytes; a lock file is at most %d", path, big.size, maxLockFile)
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", LockFile, err)
	}
	l, err = parseLock(b)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", filepath.Join(dir, LockFile), err)
	}
	return l, true, nil
}

// parseLock parses a lock file's contents.
func parseLock(b []byte) (lock, error) {
	l := lock{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		digest, file, ok := strings.Cut(line, " ")
		file = strings.TrimPrefix(strings.TrimSpace(file), "*") // sha256sum's binary mode
		if !ok || file == "" || len(digest) != 64 || strings.Trim(digest, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("line %d: want \"SHA256  FILE\" with a lowercase hex sha256, got %q", n, line)
		}
		if strings.HasPrefix(file, oci.Scheme) {
			// A pin that no reference could match would be a silent no-op.
			ref, err := oci.ParseReference(file)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			if key := lockKey(ref); key != file {
				return nil, fmt.Errorf("line %d: %q: a lock file pins a tag without a digest; write %q", n, file, key)
			}
		} else if strings.ContainsRune(file, '/') {
			return nil, fmt.Errorf("line %d: %q: a lock file names files of its own directory", n, file)
		}
		if _, dup := l[file]; dup {
			return nil, fmt.Errorf("line %d: %s is listed twice", n, file)
		}
		l[file] = digest
	}
	return l, sc.Err()
}

// check reports why the module file whose sha256 is got may not be
// loaded, or nil.
func (l lock) check(file string, got string) error {
	want, ok := l[file]
	ref := strings.HasPrefix(file, oci.Scheme)
	switch {
	case ref && !ok:
		return fmt.Errorf("%s is not in %s (its module's sha256 is %s); pin it with 'wasmreg lock %s' (same --%s), or pass --%s",
			file, LockFile, got, file, flagDir, flagAllowUnlocked)
	case ref && want != got:
		return fmt.Errorf("%s changed (the tag moved?): its module's sha256 is %s, %s has %s; if you trust the new module, "+
			"run 'wasmreg lock %s' (same --%s), or pass --%s", file, got, LockFile, want, file, flagDir, flagAllowUnlocked)
	case !ok:
		return fmt.Errorf("%s is not in %s (sha256 %s); add it with 'wasmreg lock', or pass --%s",
			file, LockFile, got, flagAllowUnlocked)
	case want != got:
		return fmt.Errorf("%s changed: its sha256 is %s, %s has %s; if the change is yours, run 'wasmreg lock', or pass --%s",
			file, got, LockFile, want, flagAllowUnlocked)
	}
	return nil
}

// digestPin is what sha256 a module may have: what every lock file that
// applies to it allows, and --sha256. The host that loads the module is
// made with its options (host.WithPinnedDigests), so that the host, not
// the CLI, compares digests, and refuses any other module with
// host.ErrDigestMismatch before compiling it; refusal then says which
// requirement the module failed. The zero digestPin allows any module.
type digestPin struct {
	locks  []lockRef
	sha256 string // --sha256, or ""
}

// lockRef is a lock file that applies to a module.
type lockRef struct {
	lock lock
	// file is the module's name in the lock's directory; "" when the pin
	// is a directory scan's, which the lock's every digest may pass (a
	// host pins digests, not file names).
	file string
}

// pathPin returns the pin of the module file at path: the lock of the
// directory that holds it, if it has one (a path typed into a locked
// directory must not bypass its lock), and, if path is a symbolic link,
// the lock of the directory of the file it leads to too; and sha256.
func pathPin(path string, allowUnlocked bool, sha256 string) (digestPin, error) {
	pin := digestPin{sha256: sha256}
	if allowUnlocked {
		return pin, nil
	}
	places := [][2]string{{filepath.Dir(path), filepath.Base(path)}}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		realAbs, err1 := filepath.Abs(real)
		abs, err2 := filepath.Abs(path)
		if err1 == nil && err2 == nil && realAbs != abs {
			places = append(places, [2]string{filepath.Dir(realAbs), filepath.Base(realAbs)})
		}
	}
	for _, p := range places {
		l, locked, err := readLock(p[0])
		if err != nil {
			return digestPin{}, err
		}
		if locked {
			pin.locks = append(pin.locks, lockRef{lock: l, file: p[1]})
		}
	}
	return pin, nil
}

// dirPin returns the pin of a scan of the modules of a directory with
// lock l (nil if it has none or it does not apply) and sha256.
func dirPin(l lock, sha256 string) digestPin {
	pin := digestPin{sha256: sha256}
	if l != nil {
		pin.locks = []lockRef{{lock: l}}
	}
	return pin
}

// options returns the host options that pin: none if nothing pins, else
// WithPinnedDigests with the digests that allowed returns.
func (p digestPin) options() []host.Option {
	ds, pinned := p.allowed()
	if !pinned {
		return nil
	}
	return []host.Option{host.WithPinnedDigests(ds...)}
}

// allowed returns the digests, sorted, that every requirement of p allows,
// and whether anything pins at all. The digests may be none (a file that a
// lock does not list, or a --sha256 that a lock does not have): the host
// then refuses every module.
func (p digestPin) allowed() (digests []string, pinned bool) {
	if len(p.locks) == 0 && p.sha256 == "" {
		return nil, false
	}
	var allowed []string
	first := true
	narrow := func(ds []string) {
		if first {
			allowed, first = ds, false
			return
		}
		allowed = slices.DeleteFunc(allowed, func(d string) bool { return !slices.Contains(ds, d) })
	}
	for _, r := range p.locks {
		switch d, ok := r.lock[r.file]; {
		case r.file == "":
			narrow(slices.Sorted(maps.Values(r.lock)))
		case ok:
			narrow([]string{d})
		default:
			narrow([]string{})
		}
	}
	if p.sha256 != "" {
		narrow([]string{p.sha256})
	}
	return slices.Compact(allowed), true
}

// check returns the first requirement of p that a module whose sha256 is
// digest fails, or nil; file is its name in a scanned directory, for a
// directory's pin. The lock comes first, as it is the directory's rule;
// a --sha256 mismatch is a *sha256Mismatch.
func (p digestPin) check(file, digest string) error {
	for _, r := range p.locks {
		name := r.file
		if name == "" {
			name = file
		}
		if err := r.lock.check(name, digest); err != nil {
			return err
		}
	}
	if p.sha256 != "" && digest != p.sha256 {
		return &sha256Mismatch{got: digest, want: p.sha256}
	}
	return nil
}

// refusal returns what to report when loading wasm, read from path, failed
// with err: if the host refused the module for its digest, the requirement
// it failed, naming path and both digests; else err itself. Only a refused
// module is hashed here: the host hashed it already, and hashes what it
// loads anyway.
func (p digestPin) refusal(err error, path string, wasm []byte) error {
	if !errors.Is(err, host.ErrDigestMismatch) {
		return err
	}
	if why := p.check(filepath.Base(path), host.Digest(wasm)); why != nil {
		return fmt.Errorf("refusing to load %s: %w", path, why)
	}
	return err
}

// sha256Mismatch is a module whose sha256 is not the one --sha256 wants.
type sha256Mismatch struct{ got, want string }

func (e *sha256Mismatch) Error() string {
	return fmt.Sprintf("its sha256 is %s, --%s wants %s", e.got, flagSHA256, e.want)
}

// format writes l as a lock file, sorted by file name (references after
// files, as "oci://" sorts after the names of *.wasm files that start
// with a letter or digit).
func (l lock) format() []byte {
	files := make([]string, 0, len(l))
	for f := range l {
		files = append(files, f)
	}
	slices.Sort(files)
	var b bytes.Buffer
	b.WriteString("# wasmreg lock file: the sha256 of every factory module of this directory,\n")
	b.WriteString("# and of the module of each oci:// reference it pins.\n")
	b.WriteString("# 'wasmreg --dir DIR ...' refuses a module or reference that is not listed or has changed.\n")
	for _, f := range files {
		fmt.Fprintf(&b, "%s  %s\n", l[f], f)
	}
	return b.Bytes()
}

// LockCommand returns the `wasmreg lock` command: pin the sha256 of every
// module of --dir that loads, or of the modules oci:// references name.
func LockCommand() *cli.Command {
	return &cli.Command{
		Name:      "lock",
		Usage:     "write the factories directory's lock file (file or oci:// reference → sha256)",
		ArgsUsage: "[oci://HOST[:PORT]/REPO:TAG|oci://HOST[:PORT]/REPO@sha256:DIGEST...]",
		Description: "Without arguments, lock loads every *.wasm module of --dir, granting nothing (as list\n" +
			"does), and writes the sha256 of each one that loads to DIR/" + LockFile + " (the format of\n" +
			"sha256sum), keeping the lines of oci:// references. With oci:// references, it pulls each\n" +
			"one (a tag is resolved to a digest once), loads its module the same way, and adds or\n" +
			"updates the line \"SHA256  REF\" that pins the reference (a tag without the digest it\n" +
			"resolved to) to the module's sha256, leaving every other line as it was.\n" +
			"From then on, commands that read --dir, a module file in DIR or an oci:// reference\n" +
			"refuse a module or reference that is not listed, or whose contents changed (a moved\n" +
			"tag), unless --" + flagAllowUnlocked + " is given. Review what you lock: locking says you\n" +
			"trust it.\n\n" +
			"Examples:\n" +
			"   wasmreg lock --dir build/factories\n" +
			"   wasmreg lock --dir build/factories oci://127.0.0.1:5000/factories/echo:v1\n" +
			"   (cd build/factories && sha256sum -c --ignore-missing " + LockFile + ")   # files of its own directory; not oci:// lines" + globalNote,
		Flags:           loadLimitFlags(),
		Action:          lockAction,
		OnUsageError:    onUsageError,
		HideHelpCommand: true,
	}
}

func lockAction(cCtx *cli.Context) error {
	dir := cCtx.String(flagDir)
	scan, err := scanFlags(cCtx)
	if err != nil {
		return err
	}
	if cCtx.NArg() > 0 {
		return lockRefs(cCtx, dir, scan, cCtx.Args().Slice())
	}
	scan.allowUnlocked = true // locking is how a module gets in
	c, err := scanDir(cCtx, dir, scan)
	if err != nil {
		return err
	}
	defer closeHost(cCtx, c.host)
	c.warnSkipped(cCtx)
	l := lock{}
	// Pins of oci:// references are made by 'wasmreg lock REF': keep them.
	if old, locked, err := readLock(dir); err == nil && locked {
		for k, v := range old {
			if strings.HasPrefix(k, oci.Scheme) {
				l[k] = v
			}
		}
	}
	for _, m := range c.loaded {
		l[filepath.Base(m.path)] = m.factory.Digest()
	}
	path, err := writeLock(dir, l)
	if err != nil {
		return err
	}
	fmt.Fprintf(cCtx.App.Writer, "locked %d module(s) in %s\n", len(l), safetext.Line(path, maxLineShown))
	return nil
}

// lockRefs adds or updates the pins of refs in dir's lock file: each is
// pulled, its module loaded on an inspection host (a module that would not
// load is not locked), and pinned to its sha256 under lockKey. Every other
// line stays. Nothing is written unless every reference is locked.
func lockRefs(cCtx *cli.Context, dir string, scan scanOptions, args []string) error {
	l, locked, err := readLock(dir)
	if err != nil {
		return err
	}
	if !locked {
		l = lock{}
	}
	refs := make([]oci.Reference, len(args))
	for i, arg := range args {
		if refs[i], err = oci.ParseReference(arg); err != nil {
			return usageErrorf("lock takes oci:// references, or no arguments to lock --%s: %s", flagDir, errLine(err))
		}
	}
	c, err := ociClient(cCtx, scan.sizeLimit)
	if err != nil {
		return err
	}
	for _, ref := range refs {
		a, err := c.Pull(cCtx.Context, ref)
		if err != nil {
			return fmt.Errorf("not locking %s: %w", safetext.Line(ref.String(), maxLineShown), registryErr(err))
		}
		h, err := newInspectionHost(cCtx)
		if err != nil {
			return err
		}
		_, err = h.Load(cCtx.Context, a.Wasm)
		closeHost(cCtx, h)
		if err != nil {
			return fmt.Errorf("not locking %s: %w", safetext.Line(a.Ref.String(), maxLineShown), err)
		}
		key, sum := lockKey(ref), strings.TrimPrefix(a.LayerDigest, "sha256:")
		switch old, ok := l[key]; {
		case !ok:
			fmt.Fprintf(cCtx.App.ErrWriter, "pinned %s to sha256 %s (manifest %s)\n", safetext.Line(key, maxLineShown), sum, a.Ref.Digest)
		case old != sum:
			fmt.Fprintf(cCtx.App.ErrWriter, "re-pinned %s from sha256 %s to %s (manifest %s)\n", safetext.Line(key, maxLineShown), old, sum, a.Ref.Digest)
		}
		l[key] = sum
	}
	path, err := writeLock(dir, l)
	if err != nil {
		return err
	}
	fmt.Fprintf(cCtx.App.Writer, "locked %s in %s\n", plural(len(refs), "reference"), safetext.Line(path, maxLineShown))
	if !locked {
		if files, _ := filepath.Glob(filepath.Join(dir, "*.wasm")); len(files) > 0 {
			warnf(cCtx.App.ErrWriter, "%s is new and lists none of the %s of %s; they are refused until 'wasmreg lock --%s %s'",
				LockFile, plural(len(files), "module file"), safetext.Line(dir, maxLineShown), flagDir, safetext.Line(dir, maxLineShown))
		}
	}
	return nil
}

// writeLock writes l as dir's lock file through a temporary file and a
// rename, so that a reader never sees half a lock, and returns its path.
func writeLock(dir string, l lock) (string, error) {
	path := filepath.Join(dir, LockFile)
	tmp, err := os.CreateTemp(dir, ".wasmreg.lock-*")
	if err != nil {
		return "", fmt.Errorf("write lock file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a rename, nothing to remove
	_, werr := tmp.Write(l.format())
	if err := errors.Join(werr, tmp.Chmod(0o644), tmp.Close()); err != nil {
		return "", fmt.Errorf("write lock file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("write lock file: %w", err)
	}
	return path, nil
}
