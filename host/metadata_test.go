package host_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
)

// TestMetadataEveryProblem checks that the metadata's problems are all
// reported at once, in a *ModuleError, each wrapping its sentinel and
// naming its field.
func TestMetadataEveryProblem(t *testing.T) {
	h, _ := newHost(t)
	tests := []struct {
		name     string
		metadata string
		want     []string // a part of each problem, in order
		kinds    []error
	}{
		{"one", `{"name":"a","version":"1.0.0","extra":1}`,
			[]string{`unknown field "extra"`}, []error{host.ErrBadMetadata}},
		{"every field wrong", `{"name":"a b","version":"1.0","description":[],"capabilities":["x","clock",7],"config_schema":"{}"}`,
			[]string{
				`field "description" must be a string, not an array`,
				`field "name" "a b": base name has ' ' at byte 1`,
				`field "config_schema" must be a JSON Schema object, not a string`,
				`field "capabilities"[0] "x" is not a capability`,
				`field "capabilities" asks for capability "clock", which the host has not granted`,
				`field "capabilities"[2] must be a capability name (a string), not a number`,
			},
			[]error{host.ErrBadMetadata, host.ErrBadMetadata, host.ErrBadMetadata, host.ErrUnknownCapability, host.ErrNotGranted, host.ErrBadMetadata}},
		{"name and version missing", `{}`,
			[]string{`field "name" is required`, `field "version" is required`}, []error{host.ErrBadMetadata, host.ErrBadMetadata}},
		{"bad version after a good name", `{"name":"mlp","version":"v1.0.0"}`,
			[]string{`field "version": version "v1.0.0" starts with "v"; write "1.0.0"`}, []error{host.ErrBadMetadata}},
		{"invalid UTF-8", "{\"name\":\"a\xff\",\"version\":\"1.0.0\"}",
			[]string{`field "name" is not valid UTF-8`}, []error{host.ErrBadMetadata}},
		{"data after the object", `{"name":"a","version":"1.0.0"} {}`,
			[]string{`it is not valid JSON`}, []error{host.ErrBadMetadata}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := host.ParseMetadata(h, []byte(tc.metadata))
			var me *host.ModuleError
			require.ErrorAs(t, err, &me)
			require.Len(t, me.Problems, len(tc.want), "%v", err)
			for i, p := range me.Problems {
				assert.Contains(t, p.Error(), tc.want[i])
				assert.True(t, errors.Is(p, tc.kinds[i]), "problem %d %q is not %v", i, p, tc.kinds[i])
				assert.NotContains(t, p.Error(), "registry:")
				assert.NotContains(t, p.Error(), "Go value")
			}
		})
	}
}
