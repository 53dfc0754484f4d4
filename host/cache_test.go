//go:build unix

package host_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
)

// TestUnsafeCacheDir checks that New refuses a compilation cache that
// someone else could write to, naming what is wrong and the fix, and uses
// one that is the user's alone.
func TestUnsafeCacheDir(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) (offender string)
		want    []string // in the error
	}{
		{"world-writable", func(t *testing.T, dir string) string {
			require.NoError(t, os.Chmod(dir, 0o777))
			return dir
		}, []string{"mode 0777", "chmod -R go-w"}},
		{"group-writable", func(t *testing.T, dir string) string {
			require.NoError(t, os.Chmod(dir, 0o770))
			return dir
		}, []string{"mode 0770"}},
		{"world-writable wazero subdirectory", func(t *testing.T, dir string) string {
			sub := filepath.Join(dir, "wazero-v1.12.0-amd64-linux")
			require.NoError(t, os.Mkdir(sub, 0o700))
			require.NoError(t, os.Chmod(sub, 0o777))
			return sub
		}, []string{"mode 0777"}},
		{"group-writable entry", func(t *testing.T, dir string) string {
			sub := filepath.Join(dir, "wazero-v1.12.0-amd64-linux")
			require.NoError(t, os.Mkdir(sub, 0o700))
			entry := filepath.Join(sub, "0123abcd")
			require.NoError(t, os.WriteFile(entry, []byte("compiled"), 0o600))
			require.NoError(t, os.Chmod(entry, 0o620))
			return entry
		}, []string{"mode 0620"}},
		{"symbolic link inside", func(t *testing.T, dir string) string {
			link := filepath.Join(dir, "wazero-v1.12.0-amd64-linux")
			require.NoError(t, os.Symlink(t.TempDir(), link))
			return link
		}, []string{"symbolic link"}},
		{"another user's", func(t *testing.T, dir string) string {
			if os.Geteuid() != 0 {
				t.Skip("only root can give a directory away")
			}
			require.NoError(t, os.Chown(dir, 65534, 65534))
			return dir
		}, []string{"owned by uid 65534", "chown -R 0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			require.NoError(t, os.Mkdir(dir, 0o700))
			offender := tc.prepare(t, dir)
			h, err := host.New(context.Background(), host.WithCompilationCacheDir(dir))
			if err == nil {
				h.Close(context.Background())
			}
			require.ErrorIs(t, err, host.ErrUnsafeCacheDir)
			assert.Contains(t, err.Error(), offender+" ", "names the offender")
			for _, s := range tc.want {
				assert.Contains(t, err.Error(), s)
			}
		})
	}

	t.Run("the user's alone", func(t *testing.T) {
		for _, mode := range []os.FileMode{0o700, 0o755} { // readable by others is no risk
			dir := filepath.Join(t.TempDir(), "cache")
			require.NoError(t, os.Mkdir(dir, mode))
			require.NoError(t, os.Chmod(dir, mode))
			for range 2 { // the second run finds wazero's subdirectory and entries
				h, err := host.New(context.Background(), host.WithCompilationCacheDir(dir))
				require.NoError(t, err, "mode %04o", mode)
				_, err = h.Load(context.Background(), fixture(t, "echo.wasm"))
				require.NoError(t, err)
				require.NoError(t, h.Close(context.Background()))
			}
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.NotEmpty(t, entries, "the cache was used")
		}
	})

	t.Run("linked directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "cache")
		require.NoError(t, os.Mkdir(dir, 0o700))
		link := filepath.Join(t.TempDir(), "link")
		require.NoError(t, os.Symlink(dir, link))
		h, err := host.New(context.Background(), host.WithCompilationCacheDir(link))
		require.NoError(t, err, "the directory itself may be a link: the user chose it")
		require.NoError(t, h.Close(context.Background()))
	})
}

// TestConcurrentLoadsFromFileCache loads one module from many goroutines on
// hosts whose compilation cache already holds it: wazero v1.12 hands a
// module read from its file cache to a concurrent compile of the same bytes
// before it is ready (wazero issue #2547), and its instantiation panicked.
func TestConcurrentLoadsFromFileCache(t *testing.T) {
	t.Parallel()
	wasm, err := os.ReadFile(filepath.Join("testdata", "echo.wasm"))
	require.NoError(t, err)
	dir := t.TempDir()
	ctx := context.Background()
	for round := range 6 {
		h, err := host.New(ctx, host.WithCompilationCacheDir(dir))
		require.NoError(t, err)
		const n = 16
		errs := make(chan error, n)
		start := make(chan struct{})
		for range n {
			go func() {
				<-start
				f, err := h.Load(ctx, wasm)
				if err == nil {
					err = f.Close(ctx)
				}
				errs <- err
			}()
		}
		close(start)
		for range n {
			assert.NoError(t, <-errs, "round %d", round)
		}
		require.NoError(t, h.Close(ctx))
	}
}
