package app

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
)

func TestParseLock(t *testing.T) {
	d1 := "05544ca86347d347c8898750f59e8901bd1a85f501b8b6ea535b852bfdfb2518"
	tests := []struct {
		name string
		in   string
		want lock
		err  string
	}{
		{"sha256sum output", d1 + "  echo.wasm\n", lock{"echo.wasm": d1}, ""},
		{"binary mode and comments", "# pinned\n\n" + d1 + " *echo.wasm\n", lock{"echo.wasm": d1}, ""},
		{"uppercase digest", "05544CA86347D347C8898750F59E8901BD1A85F501B8B6EA535B852BFDFB2518  echo.wasm\n", nil, "line 1: want"},
		{"short digest", "abc  echo.wasm\n", nil, "line 1: want"},
		{"no file", d1 + "\n", nil, "line 1: want"},
		{"path", d1 + "  ../x.wasm\n", nil, "names files of its own directory"},
		{"twice", d1 + "  a.wasm\n" + d1 + "  a.wasm\n", nil, "line 2: a.wasm is listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := parseLock([]byte(tc.in))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, l)
			back, err := parseLock(l.format())
			require.NoError(t, err)
			assert.Equal(t, l, back, "format and parse round-trip")
		})
	}
}

func TestLockCheck(t *testing.T) {
	digest := host.Digest([]byte("module"))
	l := lock{"m.wasm": "f5f2a2a4cdbd3c3ba7a4f6dc7fbe2e6be4a98a9e7e96a7fcfc0bff0d6e0f25c0"}
	err := l.check("m.wasm", digest)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "m.wasm changed")
	assert.Contains(t, err.Error(), "--allow-unlocked")
	err = l.check("other.wasm", digest)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "other.wasm is not in wasmreg.lock")
}
