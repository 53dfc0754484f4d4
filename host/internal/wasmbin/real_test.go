package wasmbin

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRealModules decodes every real module: each one wazero compiles
// must decode, under the default limits, to the functions, loops and
// instructions wasm-objdump finds.
func TestRealModules(t *testing.T) {
	mods := realModules(t)
	names := make([]string, 0, len(mods))
	for name := range mods {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		wasm := mods[name]
		t.Run(name, func(t *testing.T) {
			werr := wazeroCompile(wasm)
			m, err := Decode(wasm, DefaultLimits())
			if werr != nil {
				t.Logf("wazero refuses it (%v); Decode says %v", werr, err)
				return
			}
			require.NoError(t, err)
			want, ok := objdump(t, wasm)
			require.True(t, ok, "wasm-objdump cannot read a module wazero accepts")
			assert.Equal(t, want, counts(m))
		})
	}
}
