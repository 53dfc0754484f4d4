package app

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

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
		if strings.ContainsRune(file, '/') {
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
	switch {
	case !ok:
		return fmt.Errorf("%s is not in %s (sha256 %s); add it with 'wasmreg lock', or pass --%s",
			file, LockFile, got, flagAllowUnlocked)
	case want != got:
		return fmt.Errorf("%s changed: its sha256 is %s, %s has %s; if the change is yours, run 'wasmreg lock', or pass --%s",
			file, got, LockFile, want, flagAllowUnlocked)
	}
	return nil
}

// checkPathLock applies the lock of the directory that holds path, if it
// has one, to the module file at path whose sha256 is digest: a path typed
// into a locked directory must not bypass its lock. If path is a symbolic
// link, the lock of the directory of the file it leads to applies too.
func checkPathLock(path string, digest func() string) error {
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
			return err
		}
		if !locked {
			continue
		}
		if err := l.check(p[1], digest()); err != nil {
			return fmt.Errorf("refusing to load %s: %w", path, err)
		}
	}
	return nil
}

// format writes l as a lock file, sorted by file name.
func (l lock) format() []byte {
	files := make([]string, 0, len(l))
	for f := range l {
		files = append(files, f)
	}
	slices.Sort(files)
	var b bytes.Buffer
	b.WriteString("# wasmreg lock file: the sha256 of every factory module of this directory.\n")
	b.WriteString("# 'wasmreg --dir DIR ...' refuses a module that is not listed or has changed.\n")
	for _, f := range files {
		fmt.Fprintf(&b, "%s  %s\n", l[f], f)
	}
	return b.Bytes()
}

// LockCommand returns the `wasmreg lock` command: pin the sha256 of every
// module of --dir that loads.
func LockCommand() *cli.Command {
	return &cli.Command{
		Name:  "lock",
		Usage: "write the factories directory's lock file (file name → sha256)",
		Description: "lock loads every *.wasm module of --dir, granting nothing (as list does), and writes\n" +
			"the sha256 of each one that loads to DIR/" + LockFile + " (the format of sha256sum).\n" +
			"From then on, commands that read --dir, or a module file in DIR, refuse a module that\n" +
			"is not listed or whose contents changed, unless --" + flagAllowUnlocked + " is given. Review\n" +
			"what you lock: locking says you trust it.\n\n" +
			"Examples:\n" +
			"   wasmreg lock --dir build/factories\n" +
			"   sha256sum -c build/factories/" + LockFile + globalNote,
		Flags:           limitFlags(),
		Action:          lockAction,
		OnUsageError:    onUsageError,
		HideHelpCommand: true,
	}
}

func lockAction(cCtx *cli.Context) error {
	if cCtx.NArg() > 0 {
		return usageErrorf("lock takes no arguments; it locks --%s", flagDir)
	}
	dir := cCtx.String(flagDir)
	scan, err := scanFlags(cCtx)
	if err != nil {
		return err
	}
	scan.allowUnlocked = true // locking is how a module gets in
	h, err := newInspectionHost(cCtx)
	if err != nil {
		return err
	}
	defer closeHost(cCtx, h)
	c, err := scanDir(cCtx.Context, h, dir, scan)
	if err != nil {
		return err
	}
	c.warnSkipped(cCtx)
	l := lock{}
	for _, m := range c.loaded {
		l[filepath.Base(m.path)] = m.factory.Digest()
	}
	path := filepath.Join(dir, LockFile)
	if err := os.WriteFile(path, l.format(), 0o644); err != nil {
		return fmt.Errorf("write lock file: %w", err)
	}
	fmt.Fprintf(cCtx.App.Writer, "locked %d module(s) in %s\n", len(l), safetext.Line(path, maxLineShown))
	return nil
}
