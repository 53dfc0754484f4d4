package wazeroerr

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAuditedVersion fails when go.mod requires a wazero other than the
// audited one: re-audit the fragments of this package and wasmbin's claim
// to decode what wazero accepts, then change Audited.
func TestAuditedVersion(t *testing.T) {
	b, err := os.ReadFile("../../../go.mod")
	require.NoError(t, err)
	var got string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "github.com/tetratelabs/wazero" {
			got = f[1]
		} else if len(f) >= 3 && f[0] == "require" && f[1] == "github.com/tetratelabs/wazero" {
			got = f[2]
		}
	}
	require.NotEmpty(t, got, "go.mod requires wazero")
	assert.Equal(t, Audited, got, "wazero changed in go.mod: re-audit host/internal/wazeroerr, wasmbin's differential tests and host/recycle.go's shrinkMemory, then set Audited")
}

func TestMatches(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"index", errors.New("invalid function[0]: unknown type index 3 out of range"), true},
		{"other", errors.New("boom"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Matches(tc.err, IndexFragments))
		})
	}
	assert.Equal(t, "wasm error: x", TrimRecovered("wasm error: x"+RecoveredSuffix))
}
