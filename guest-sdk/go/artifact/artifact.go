// Package artifact reads the read-only named blobs, such as trained
// weights, that the wasmreg host grants through its artifact capability
// (docs/ABI.md §4.2). A factory that uses it needs the "artifact" grant
// (the CLI: --grant artifact=NAME=FILE, once per artifact) and should list
// "artifact" in its [wasmreg.Info.Capabilities]; a factory documents which
// names it reads.
//
// An artifact is read into the guest's own linear memory, which the host
// caps (64 MiB by default): reading one larger than the memory left is a
// fatal "out of memory" that closes the instance. Use [ReadAt] to stream a
// large artifact instead of [ReadAll].
//
// Outside a wasmreg host (GOOS other than wasip1) artifacts come from the
// file system given to [UseFS], so that factory logic that reads artifacts
// can be tested natively, as the clock and random packages read the
// machine's clock and a local random stream there. Like the guest
// instance, the package is single-threaded.
//
// [wasmreg.Info.Capabilities]: https://pkg.go.dev/github.com/wasmreg/wasmreg/guest-sdk/go#Info
package artifact

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// ErrNotFound means the host has no artifact of that name for this
// factory. Errors wrap it with the artifact's name.
var ErrNotFound = errors.New("artifact: not found")

// native is where artifacts come from outside a host; nil: none.
var native fs.FS

// UseFS sets where artifacts come from outside a wasmreg host (GOOS other
// than wasip1), and returns the previous setting: artifact NAME is the
// file NAME of fsys, such as an [testing/fstest.MapFS] in a test or
// [os.DirFS] of a directory of weights. With nil, the default, there are
// no artifacts: [Size] reports false and the reads wrap [ErrNotFound].
// Inside a wasmreg host it has no effect: the host's grants decide.
//
// A test restores the previous setting with
//
//	defer artifact.UseFS(artifact.UseFS(fstest.MapFS{"weights": {Data: w}}))
//
// UseFS is not safe for concurrent use with itself or with the package's
// other functions.
func UseFS(fsys fs.FS) fs.FS {
	prev := native
	native = fsys
	return prev
}

// chunk is the most bytes one artifact_read call asks for.
const chunk = 4 << 20

// maxSize is the largest artifact ReadAll accepts: a wasm32 memory is at
// most 4 GiB.
const maxSize = 1 << 32

// Size returns the size in bytes of artifact name, and false if the host
// has no such artifact (import artifact_size).
func Size(name string) (int64, bool) {
	n := size(name)
	if n < 0 {
		return 0, false
	}
	return n, true
}

// ReadAll returns the contents of artifact name, read in chunks of at most
// 4 MiB (imports artifact_size and artifact_read). Its errors name the
// artifact; a missing artifact wraps [ErrNotFound].
func ReadAll(name string) ([]byte, error) {
	n, ok := Size(name)
	if !ok {
		return nil, fmt.Errorf("artifact %q: %w", name, ErrNotFound)
	}
	return readAll(name, n, func(off int64, p []byte) int64 { return read(name, off, p) })
}

// ReadAt reads len(p) bytes of artifact name starting at byte off, as
// io.ReaderAt does: it returns io.EOF with n < len(p) at the end of the
// artifact (import artifact_read). A missing artifact wraps [ErrNotFound].
func ReadAt(name string, p []byte, off int64) (n int, err error) {
	if off < 0 {
		return 0, fmt.Errorf("artifact %q: negative offset %d", name, off)
	}
	for n < len(p) {
		got := read(name, off+int64(n), p[n:min(len(p), n+chunk)])
		switch {
		case got == 0:
			return n, io.EOF
		case got < 0:
			return n, readError(name, got)
		}
		n += int(got)
	}
	return n, nil
}

// readAll reads size bytes of artifact name with read, which returns what
// artifact_read returns.
func readAll(name string, size int64, read func(off int64, p []byte) int64) ([]byte, error) {
	if size > maxSize {
		return nil, fmt.Errorf("artifact %q is %d bytes, more than a wasm32 memory holds", name, size)
	}
	buf := make([]byte, size)
	for off := int64(0); off < size; {
		got := read(off, buf[off:min(size, off+chunk)])
		switch {
		case got == 0:
			return nil, fmt.Errorf("artifact %q: ended after %d of its %d bytes", name, off, size)
		case got < 0:
			return nil, readError(name, got)
		}
		off += got
	}
	return buf, nil
}

func readError(name string, code int64) error {
	if code == -1 {
		return fmt.Errorf("artifact %q: %w", name, ErrNotFound)
	}
	return fmt.Errorf("artifact %q: artifact_read returned %d", name, code)
}
