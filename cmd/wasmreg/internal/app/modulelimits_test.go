package app

import (
	"fmt"
	"reflect"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
)

// TestModuleLimitFields: --module-limit knows every field of
// host.ModuleLimits, by its name, and sets that field alone.
func TestModuleLimitFields(t *testing.T) {
	typ := reflect.TypeFor[host.ModuleLimits]()
	require.Len(t, moduleLimitNames(), typ.NumField())
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		t.Run(name, func(t *testing.T) {
			l, err := parseModuleLimits([]string{name + "=7"})
			require.NoError(t, err)
			var want host.ModuleLimits
			reflect.ValueOf(&want).Elem().Field(i).SetUint(7) // uint32 and uint64 alike
			assert.Equal(t, want, l)
		})
	}
}

func TestParseModuleLimits(t *testing.T) {
	tests := []struct {
		name  string
		specs []string
		want  host.ModuleLimits
		err   string
	}{
		{"several", []string{"CompileCost=9000000", "LocalsPerFunction=4096", "MutableGlobals=64"},
			host.ModuleLimits{CompileCost: 9_000_000, LocalsPerFunction: 4096, MutableGlobals: 64}, ""},
		{"64-bit fields past 2^32", []string{"Locals=" + strconv.FormatUint(1<<33, 10), "Instructions=" + strconv.FormatUint(1<<34, 10)},
			host.ModuleLimits{Locals: 1 << 33, Instructions: 1 << 34}, ""},
		{"32-bit field past 2^32", []string{"StackHeight=4294967296"}, host.ModuleLimits{}, "4294967296 is over 4294967295"},
		{"unknown", []string{"Bogus=1"}, host.ModuleLimits{}, `no limit "Bogus" (limits: BlockDepth, BrTableTargets, CompileCost, ControlPerFunction,`},
		{"zero", []string{"Types=0"}, host.ModuleLimits{}, "want NAME=N with N a positive integer"},
		{"no value", []string{"Types"}, host.ModuleLimits{}, "want NAME=N"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := parseModuleLimits(tc.specs)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, l)
		})
	}
}

// The host's refusals name the option; the CLI names the flag instead.
func TestModuleLimitHint(t *testing.T) {
	stack := &host.LimitError{Kind: host.ErrModuleLimit, Option: "WithModuleLimits", Field: "StackHeight",
		Detail: "function[5]: 300 is over the limit StackHeight of 256"}
	table := &host.LimitError{Kind: host.ErrModuleLimit, Option: "WithTableLimit",
		Detail: "table[0]: 20000000 is over the limit TableSize of 1000000"}
	msg := cliWords(&host.ModuleError{Module: "sha256:0123", Problems: []error{
		fmt.Errorf("%w: %w", host.ErrModuleLimit, stack), fmt.Errorf("%w: %w", host.ErrModuleLimit, table)}})
	assert.Contains(t, msg, "function[5]: 300 is over the limit StackHeight of 256 (raise it with --module-limit StackHeight)")
	assert.Contains(t, msg, "table[0]: 20000000 is over the limit TableSize of 1000000 (raise it with --table-limit)")
	assert.NotContains(t, msg, "host.With")
}
