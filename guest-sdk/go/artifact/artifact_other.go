//go:build !wasip1

package artifact

import (
	"io"
	"io/fs"
)

// size is artifact_size over the file system given to UseFS.
func size(name string) int64 {
	if native == nil || !fs.ValidPath(name) {
		return -1
	}
	fi, err := fs.Stat(native, name)
	if err != nil || !fi.Mode().IsRegular() {
		return -1
	}
	return fi.Size()
}

// read is artifact_read over the file system given to UseFS: the bytes
// copied, 0 at or past the end, -1 for no such artifact, -2 for a negative
// offset.
func read(name string, off int64, p []byte) int64 {
	if size(name) < 0 {
		return -1
	}
	if off < 0 {
		return -2
	}
	f, err := native.Open(name)
	if err != nil {
		return -1
	}
	defer f.Close()
	if ra, ok := f.(io.ReaderAt); ok {
		n, _ := ra.ReadAt(p, off)
		return int64(n)
	}
	if _, err := io.CopyN(io.Discard, f, off); err != nil {
		return 0
	}
	n, _ := io.ReadFull(f, p) // short at the end
	return int64(n)
}
