//go:build unix

package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// checkCacheDir returns an error wrapping [ErrUnsafeCacheDir] unless dir,
// and everything below it, is owned by the effective user and writable by
// no one else, with no symbolic link below dir (dir itself may be one: the
// user chose the path). It names the first offender, why, and the fix.
func checkCacheDir(dir string) error {
	uid := os.Geteuid()
	root, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("host: compilation cache directory %q: %w", dir, err)
	}
	if !root.IsDir() {
		return fmt.Errorf("host: compilation cache directory %q is not a directory", dir)
	}
	if err := checkCacheEntry(dir, root, uid); err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		// An entry that vanished between the directory read and its lstat
		// is wazero's temporary file, renamed by another process sharing
		// the cache: it can plant nothing, so it is no error.
		if path != dir && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("host: compilation cache directory %q: %w", dir, err)
		}
		if path == dir {
			return nil
		}
		info, err := d.Info() // lstat: a link is checked, never followed
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("host: compilation cache directory %q: %w", dir, err)
		}
		return checkCacheEntry(path, info, uid)
	})
}

func checkCacheEntry(path string, info fs.FileInfo, uid int) error {
	mode := info.Mode()
	if mode&fs.ModeSymlink != 0 {
		return fmt.Errorf("%w: %s is a symbolic link, which could lead the cache anywhere; remove it, or choose another directory",
			ErrUnsafeCacheDir, path)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != uid {
		return fmt.Errorf("%w: %s is owned by uid %d, not by this process's user (uid %d), who could plant compiled code there; "+
			"run 'chown -R %d %s', or choose another directory", ErrUnsafeCacheDir, path, st.Uid, uid, uid, path)
	}
	if perm := mode.Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%w: %s has mode %04o (%s), writable by its group or others, who could plant compiled code there; "+
			"run 'chmod -R go-w %s', or choose another directory", ErrUnsafeCacheDir, path, perm, mode, path)
	}
	return nil
}

// checkCacheFile is checkCacheDir's check of one file, for the load cache
// to apply to each entry as it opens it.
func checkCacheFile(path string, info fs.FileInfo) error {
	return checkCacheEntry(path, info, os.Geteuid())
}
