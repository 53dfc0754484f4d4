//go:build unix

package app

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadModuleFile checks that only a regular file within the limit is
// read, and that each refusal names the file and the reason, without
// blocking on a FIFO or reading a huge sparse file.
func TestReadModuleFile(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "m.wasm")
	require.NoError(t, os.WriteFile(regular, []byte("\x00asm module"), 0o600))
	link := filepath.Join(dir, "link.wasm")
	require.NoError(t, os.Symlink(regular, link))
	fifo := filepath.Join(dir, "fifo.wasm")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	subdir := filepath.Join(dir, "dir.wasm")
	require.NoError(t, os.Mkdir(subdir, 0o700))
	sparse := filepath.Join(dir, "sparse.wasm")
	require.NoError(t, os.WriteFile(sparse, nil, 0o600))
	require.NoError(t, os.Truncate(sparse, 40<<30)) // 40 GiB, no block of it written

	tests := []struct {
		name   string
		path   string
		follow bool
		limit  int
		want   string // the error, or "" for the contents
	}{
		{"regular", regular, false, 64 << 20, ""},
		{"at the limit", regular, false, 11, ""},
		{"over the limit", regular, false, 10, regular + " is 11 bytes, over the module size limit of 10 (raise it with --module-size-limit)"},
		{"symbolic link in --dir", link, false, 64 << 20, link + " is a symbolic link: only regular files of --dir are read"},
		{"symbolic link typed", link, true, 64 << 20, ""},
		{"FIFO", fifo, false, 64 << 20, fifo + " is a named pipe (FIFO), not a regular file"},
		{"FIFO typed", fifo, true, 64 << 20, fifo + " is a named pipe (FIFO), not a regular file"},
		{"directory", subdir, false, 64 << 20, subdir + " is a directory, not a regular file"},
		{"device", "/dev/zero", true, 64 << 20, "/dev/zero is a character device, not a regular file"},
		{"sparse file", sparse, false, 64 << 20, sparse + " is 42949672960 bytes, over the module size limit of 67108864"},
		{"missing", filepath.Join(dir, "none.wasm"), false, 64 << 20, "factory module " + filepath.Join(dir, "none.wasm") + " does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			var got []byte
			var err error
			go func() {
				defer close(done)
				got, err = readModuleFile(tc.path, tc.limit, tc.follow)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("readModuleFile blocked")
			}
			if tc.want == "" {
				require.NoError(t, err)
				assert.Equal(t, "\x00asm module", string(got))
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Nil(t, got)
		})
	}
}
