package host

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

// buildGoGuest builds testdata/goguest with Go's wasip1 port, once per
// test binary; the external tests call it through BuildGoGuest.
func buildGoGuest(t testing.TB) []byte {
	t.Helper()
	path, err := wasmbuild.Shared.Get("host-goguest", func(out string) error {
		return wasmbuild.Go(context.Background(), ".", "./testdata/goguest", out)
	})
	require.NoError(t, err)
	wasm, err := os.ReadFile(path)
	require.NoError(t, err)
	return wasm
}
