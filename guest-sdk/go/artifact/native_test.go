//go:build !wasip1

package artifact_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/wasmreg/wasmreg/guest-sdk/go/artifact"
)

// onlyReader hides a file's ReadAt, as some fs.FS files lack it.
type onlyReader struct{ fs.FS }

func (o onlyReader) Open(name string) (fs.File, error) {
	f, err := o.FS.Open(name)
	return struct{ fs.File }{f}, err
}

// TestNativeFallback reads artifacts natively, from the file system given
// to UseFS, as a factory's unit test does.
func TestNativeFallback(t *testing.T) {
	weights := bytes.Repeat([]byte("0123456789"), 1000)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "weights"), weights, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, fsys := range map[string]fs.FS{
		"MapFS":       fstest.MapFS{"weights": {Data: weights}, "subdir/x": {Data: []byte("x")}},
		"DirFS":       os.DirFS(dir),
		"no ReaderAt": onlyReader{fstest.MapFS{"weights": {Data: weights}}},
	} {
		t.Run(name, func(t *testing.T) {
			defer artifact.UseFS(artifact.UseFS(fsys))
			if n, ok := artifact.Size("weights"); !ok || n != int64(len(weights)) {
				t.Errorf("Size = %d, %v; want %d, true", n, ok, len(weights))
			}
			got, err := artifact.ReadAll("weights")
			if err != nil || !bytes.Equal(got, weights) {
				t.Errorf("ReadAll = %d bytes, %v; want %d bytes", len(got), err, len(weights))
			}
			p := make([]byte, 4)
			n, err := artifact.ReadAt("weights", p, 12)
			if n != 4 || err != nil || string(p) != "2345" {
				t.Errorf("ReadAt(12) = %d, %v, %q; want 4, nil, \"2345\"", n, err, p)
			}
			n, err = artifact.ReadAt("weights", p, int64(len(weights))-2)
			if n != 2 || !errors.Is(err, io.EOF) || string(p[:2]) != "89" {
				t.Errorf("ReadAt(end-2) = %d, %v, %q; want 2, EOF, \"89\"", n, err, p[:n])
			}
			for _, missing := range []string{"nope", "subdir", "../weights", "/weights", ""} {
				if _, ok := artifact.Size(missing); ok {
					t.Errorf("Size(%q) is ok", missing)
				}
				if _, err := artifact.ReadAll(missing); !errors.Is(err, artifact.ErrNotFound) {
					t.Errorf("ReadAll(%q) = %v, want ErrNotFound", missing, err)
				}
			}
		})
	}
	if _, err := artifact.ReadAll("weights"); !errors.Is(err, artifact.ErrNotFound) {
		t.Errorf("after restoring, ReadAll = %v, want ErrNotFound", err)
	}
}

func ExampleUseFS() {
	// In a factory's test: the artifact "weights" the factory reads.
	defer artifact.UseFS(artifact.UseFS(fstest.MapFS{"weights": {Data: []byte{1, 2, 3}}}))
	w, err := artifact.ReadAll("weights")
	fmt.Println(w, err)
	_, err = artifact.ReadAll("bias")
	fmt.Println(err)
	// Output:
	// [1 2 3] <nil>
	// artifact "bias": artifact: not found
}
