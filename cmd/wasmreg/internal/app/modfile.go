package app

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// readModuleFile reads the module file at path, refusing, with an error
// that names the file and the reason, anything but a regular file of at
// most limit bytes (--module-size-limit). A symbolic link is followed only
// if follow: an entry of --dir may not point elsewhere, while a path the
// user typed is the user's choice.
func readModuleFile(path string, limit int, follow bool) ([]byte, error) {
	wasm, err := readRegular(path, int64(limit), follow)
	var big errTooLarge
	switch {
	case errors.As(err, &big):
		return nil, fmt.Errorf("%s is %d bytes, over the module size limit of %d (raise it with --%s)",
			path, big.size, limit, flagModuleLimit)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("factory module %s does not exist", path)
	case errors.Is(err, errSymlink):
		return nil, fmt.Errorf("%s is a symbolic link: only regular files of --%s are read", path, flagDir)
	case err != nil:
		return nil, fmt.Errorf("read factory module: %w", err)
	}
	return wasm, nil
}

// errTooLarge is the error of readRegular for a file over its limit.
type errTooLarge struct{ size int64 }

func (e errTooLarge) Error() string { return fmt.Sprintf("%d bytes, over the limit", e.size) }

var errSymlink = errors.New("is a symbolic link")

// readRegular reads the regular file at path, of at most limit bytes. A
// FIFO would block a plain read for ever, and a device or a sparse file of
// 40 GB would never end or exhaust memory: the file is opened without
// blocking and checked with fstat before a byte is read, and at most
// limit+1 bytes are read, in case it grows. Unless follow, a symbolic link
// is refused with errSymlink.
func readRegular(path string, limit int64, follow bool) ([]byte, error) {
	flags := os.O_RDONLY | syscall.O_NONBLOCK
	if !follow {
		flags |= noFollow
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		if !follow && isSymlink(path) {
			return nil, errSymlink
		}
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a regular file", path, fileKind(st.Mode()))
	}
	if st.Size() > limit {
		return nil, errTooLarge{st.Size()}
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge{int64(len(b))}
	}
	return b, nil
}

func isSymlink(path string) bool {
	st, err := os.Lstat(path)
	return err == nil && st.Mode()&fs.ModeSymlink != 0
}

// fileKind names what a file that is not regular is.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}
