package wasmbin

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refusedFixtures are the hostile fixtures the default limits are meant
// to refuse, each with the limit Decode names first; wazero is not asked
// to compile them (many_locals alone would kill the test binary).
var refusedFixtures = map[string]string{
	"host/testdata/hostile/table_min_huge.wasm":        "TableSize",
	"host/testdata/hostile/compile/many_locals.wasm":   "LocalsPerFunction",
	"host/testdata/hostile/compile/many_loops.wasm":    "LoopsPerFunction",
	"host/testdata/hostile/compile/nested_loops.wasm":  "LoopsPerFunction",
	"host/testdata/hostile/compile/br_table_huge.wasm": "FunctionBodyBytes",
	"host/testdata/hostile/compile/deep_blocks.wasm":   "FunctionBodyBytes",
	"host/testdata/hostile/compile/branch_chain.wasm":  "ControlPerFunction",
	"host/testdata/hostile/compile/phi_bomb.wasm":      "LoopsPerFunction",
	"host/testdata/hostile/compile/stack_bomb.wasm":    "StackHeight",
	"host/testdata/hostile/compile/global_reload.wasm": "Globals",
}

// TestRealModules decodes every real module: each one wazero compiles
// must decode, under the default limits, to the functions, loops and
// instructions wasm-objdump finds; each fixture meant to be refused is,
// by the limit it is meant for, and decodes without limits.
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
			if limit, refused := refusedFixtures[name]; refused {
				_, err := Decode(wasm, DefaultLimits())
				var le *LimitError
				require.ErrorAs(t, err, &le)
				assert.Equal(t, limit, le.Limit, "%v", err)
				// Without limits it is only numbers to Decode (wabt, like
				// wazero, would allocate what many_locals declares).
				_, err = Decode(wasm, Limits{})
				require.NoError(t, err)
				return
			}
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

// TestRefusedFixturesExist: every fixture of host/testdata/hostile/compile
// is in refusedFixtures, so that none is compiled by mistake.
func TestRefusedFixturesExist(t *testing.T) {
	mods := realModules(t)
	for name := range refusedFixtures {
		assert.Contains(t, mods, name)
	}
	for name := range mods {
		if strings.HasPrefix(name, "host/testdata/hostile/compile/") {
			assert.Contains(t, refusedFixtures, name)
		}
	}
}
