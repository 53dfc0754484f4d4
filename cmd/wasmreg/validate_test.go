package main_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestValidateMetadataProblems runs `wasmreg validate` on one fixture per
// metadata problem (testdata/metadata, made by its regenerate.sh), and on
// fixtures with many: every problem is listed, each naming the field in
// the author's terms, none in Go's (no Go types, no Go slice syntax, no
// repeated "registry:" prefixes).
func TestValidateMetadataProblems(t *testing.T) {
	t.Parallel()
	const bad, unknownCap = "  ✗ error: host: bad metadata: wasmreg_info: ", "  ✗ error: host: unknown capability: wasmreg_info: "
	const fields = `(fields are "name", "version", "description", "config_schema", "capabilities", "tensors")`
	const example = `; it must write one JSON object such as {"name": "mlp", "version": "1.0.0"}`
	tests := []struct {
		fixture string
		want    []string // the problems, in order
	}{
		{"not_object", []string{bad + "it is an array, not a JSON object" + example}},
		{"not_json", []string{bad + "it is not valid JSON: unexpected end of JSON input at byte 13" + example}},
		{"unknown_field", []string{bad + `unknown field "licence" ` + fields}},
		{"field_case", []string{
			bad + `unknown field "Name": did you mean "name"? Field names are matched exactly`,
			bad + `field "name" is required (a non-empty string)`,
		}},
		{"repeated_field", []string{bad + `field "name" appears 2 times; give it once`}},
		{"bad_name", []string{bad + `field "name" "bad name!": base name has ' ' at byte 3; allowed are ASCII letters, digits, '.', '_' and '-'`}},
		{"name_with_version", []string{bad + `field "name" "a@1.0.0" must not contain "@": give the version in field "version"`}},
		{"bad_version", []string{bad + `field "version": version "1.0" is not a strict semantic version MAJOR.MINOR.PATCH[-PRERELEASE] (invalid semantic version); write "1.0.0"`}},
		{"name_not_string", []string{bad + `field "name" must be a string, not a number`}},
		{"no_version", []string{bad + `field "version" is required (a non-empty string)`}},
		{"capabilities_not_array", []string{bad + `field "capabilities" must be an array of capability names such as ["clock"], not a string`}},
		{"unknown_capability", []string{unknownCap + `field "capabilities"[0] "teleport" is not a capability this host knows ("artifact", "clock", "log", "random")`}},
		{"schema_not_object", []string{bad + `field "config_schema" must be a JSON Schema object, not an array`}},
		{"tensors_not_object", []string{bad + `tensors: must be a JSON object such as {"inputs": [...], "outputs": [...]}, not an array`}},
		{"many", []string{
			bad + `unknown field "Name": did you mean "name"? Field names are matched exactly`,
			bad + `field "version" appears 2 times; give it once`,
			bad + `unknown field "licence" ` + fields,
			bad + `field "description" must be a string, not a number`,
			bad + `field "name" "bad name!": base name has ' ' at byte 3; allowed are ASCII letters, digits, '.', '_' and '-'`,
			bad + `field "config_schema" must be a JSON Schema object, not an array`,
			unknownCap + `field "capabilities"[0] "teleport" is not a capability this host knows ("artifact", "clock", "log", "random")`,
			bad + `field "capabilities"[1] must be a capability name (a string), not a number`,
			bad + `tensors.inputs: must be an array of tensors, not a number`,
		}},
		// A memory over --memory-limit does not hide the metadata's problems.
		{"big_memory", []string{
			"  ✗ error: host: memory limit exceeded: its memory needs at least 2000 pages (131072000 bytes), the limit is 67108864 bytes (raise it with --memory-limit)",
			bad + `unknown field "licence" ` + fields,
			bad + `field "version": version "1.0" is not a strict semantic version MAJOR.MINOR.PATCH[-PRERELEASE] (invalid semantic version); write "1.0.0"`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join("testdata", "metadata", tc.fixture+".wasm")
			r := wasmreg(t, "", "validate", file)
			assert.Equal(t, 1, r.status, r.stderr)
			problems := "1 problem"
			if len(tc.want) > 1 {
				problems = strconv.Itoa(len(tc.want)) + " problems"
			}
			want := append([]string{file + ": does not speak wasmreg ABI v1 (" + problems + "):"}, tc.want...)
			assert.Equal(t, want, strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n"))
			for _, leak := range []string{"map[string]", "interface {}", "Go value", "[artifact", "registry:", "appears more than once"} {
				assert.NotContains(t, r.stdout, leak)
			}
			assert.Equal(t, []string{"wasmreg: 1 of 1 modules failed validation"}, r.stderrLines())
		})
	}
}
