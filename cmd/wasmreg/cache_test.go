//go:build unix

package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnsafeCacheDir runs with a compilation cache directory that others
// may write to: the run warns once, naming the directory and the fix, and
// goes on without the cache; a directory that is the user's alone is used.
func TestUnsafeCacheDir(t *testing.T) {
	t.Parallel()
	unsafe := filepath.Join(t.TempDir(), "cache")
	require.NoError(t, os.Mkdir(unsafe, 0o700))
	require.NoError(t, os.Chmod(unsafe, 0o777))
	// A name lookup makes two hosts: the lookup's and the run's.
	for _, args := range [][]string{
		{"run", hostFixture("echo.wasm"), "--cache-dir", unsafe},
		{"run", "echo", "--dir", hostFixture(""), "--cache-dir", unsafe},
	} {
		r := wasmreg(t, "x\n", args...)
		require.Equal(t, 0, r.status, r.stderr)
		assert.Equal(t, "{}\n", r.stdout)
		want := "wasmreg: warning: compilation cache disabled: host: unsafe compilation cache directory: " + unsafe +
			" has mode 0777 (drwxrwxrwx), writable by its group or others, who could plant compiled code there; " +
			"run 'chmod -R go-w " + unsafe + "', or choose another directory\n"
		assert.Equal(t, 1, strings.Count(r.stderr, want), "warned once: %s", r.stderr)
		entries, err := os.ReadDir(unsafe)
		require.NoError(t, err)
		assert.Empty(t, entries, "the cache was not used")
	}

	safe := filepath.Join(t.TempDir(), "cache")
	r := wasmreg(t, "x\n", "run", hostFixture("echo.wasm"), "--cache-dir", safe)
	require.Equal(t, 0, r.status, r.stderr)
	assert.Empty(t, r.stderr)
	entries, err := os.ReadDir(safe)
	require.NoError(t, err)
	assert.NotEmpty(t, entries, "the cache was used")
}
