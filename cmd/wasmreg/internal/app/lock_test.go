package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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

	ref := "oci://127.0.0.1:5000/f/m:v1"
	l[ref] = l["m.wasm"]
	err = l.check(ref, digest)
	require.Error(t, err)
	assert.Contains(t, err.Error(), ref+" changed (the tag moved?): its module's sha256 is "+digest+", wasmreg.lock has "+l[ref])
	assert.Contains(t, err.Error(), "run 'wasmreg lock "+ref+"' (same --dir)", "a reference is locked by naming it")
	err = l.check(ref+"x", digest)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pin it with 'wasmreg lock "+ref+"x'")
}

func TestDigestPinAllowed(t *testing.T) {
	a, b, c := strings.Repeat("a", 64), strings.Repeat("b", 64), strings.Repeat("c", 64)
	dirLock := lock{"x.wasm": b, "y.wasm": a, "z.wasm": b}
	tests := []struct {
		name   string
		pin    digestPin
		want   []string
		pinned bool
	}{
		{"nothing pins", digestPin{}, nil, false},
		{"--sha256", digestPin{sha256: a}, []string{a}, true},
		{"a file's lock", digestPin{locks: []lockRef{{dirLock, "y.wasm"}}}, []string{a}, true},
		{"a file the lock does not list", digestPin{locks: []lockRef{{dirLock, "w.wasm"}}}, []string{}, true},
		{"the lock and --sha256 agree", digestPin{locks: []lockRef{{dirLock, "y.wasm"}}, sha256: a}, []string{a}, true},
		{"the lock and --sha256 disagree", digestPin{locks: []lockRef{{dirLock, "y.wasm"}}, sha256: b}, []string{}, true},
		{"a link's two locks agree", digestPin{locks: []lockRef{{dirLock, "x.wasm"}, {lock{"real.wasm": b}, "real.wasm"}}}, []string{b}, true},
		{"a link's two locks disagree", digestPin{locks: []lockRef{{dirLock, "x.wasm"}, {lock{"real.wasm": c}, "real.wasm"}}}, []string{}, true},
		{"a directory scan: every digest of the lock", dirPin(dirLock, ""), []string{a, b}, true},
		{"a directory scan with --sha256 in the lock", dirPin(dirLock, b), []string{b}, true},
		{"a directory scan with --sha256 not in the lock", dirPin(dirLock, c), []string{}, true},
		{"an unlocked directory scan with --sha256", dirPin(nil, c), []string{c}, true},
		{"an unlocked directory scan", dirPin(nil, ""), nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, pinned := tc.pin.allowed()
			assert.Equal(t, tc.pinned, pinned)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, pinned, tc.pin.options() != nil, "options pin exactly when something pins")
		})
	}
}

// TestDigestPinRefusal checks that the host, pinned with a pin's options,
// is what refuses a module, before it reads it as WebAssembly (the module
// is not even valid), and that the refusal names the file, the module's
// digest and the one wanted; a module the pin allows is loaded.
func TestDigestPinRefusal(t *testing.T) {
	junk := []byte("not a module")
	echo, err := os.ReadFile(fixture("echo.wasm"))
	require.NoError(t, err)
	junkDigest, echoDigest := host.Digest(junk), host.Digest(echo)
	other := strings.Repeat("0", 64)
	tests := []struct {
		name string
		pin  digestPin
		wasm []byte
		want string // "" if it loads
	}{
		{"--sha256 differs", digestPin{sha256: other}, junk,
			"refusing to load dir/m.wasm: its sha256 is " + junkDigest + ", --sha256 wants " + other},
		{"changed since locked", digestPin{locks: []lockRef{{lock{"m.wasm": other}, "m.wasm"}}}, junk,
			"refusing to load dir/m.wasm: m.wasm changed: its sha256 is " + junkDigest + ", wasmreg.lock has " + other},
		{"not locked", digestPin{locks: []lockRef{{lock{"n.wasm": junkDigest}, "m.wasm"}}}, junk,
			"refusing to load dir/m.wasm: m.wasm is not in wasmreg.lock (sha256 " + junkDigest + ")"},
		{"locked, but --sha256 differs", digestPin{locks: []lockRef{{lock{"m.wasm": junkDigest}, "m.wasm"}}, sha256: other}, junk,
			"refusing to load dir/m.wasm: its sha256 is " + junkDigest + ", --sha256 wants " + other},
		{"a directory's lock, checked by file name", dirPin(lock{"m.wasm": other, "n.wasm": other}, ""), junk,
			"refusing to load dir/m.wasm: m.wasm changed: its sha256 is " + junkDigest + ", wasmreg.lock has " + other},
		{"locked and wanted", digestPin{locks: []lockRef{{lock{"m.wasm": echoDigest}, "m.wasm"}}, sha256: echoDigest}, echo, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := host.New(context.Background(), append([]host.Option{host.WithLogger(slog.New(slog.DiscardHandler))}, tc.pin.options()...)...)
			require.NoError(t, err)
			defer h.Close(context.Background())
			_, err = h.Load(context.Background(), tc.wasm)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, host.ErrDigestMismatch, "the host refuses it, before it parses it")
			msg := tc.pin.refusal(err, filepath.Join("dir", "m.wasm"), tc.wasm).Error()
			assert.True(t, strings.HasPrefix(msg, tc.want), "got  %s\nwant %s…", msg, tc.want)
		})
	}
	other2 := errors.New("something else")
	assert.Same(t, other2, digestPin{sha256: other}.refusal(other2, "m.wasm", junk), "other errors pass as they are")
}
