package main_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
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

// TestValidateRefusedModule runs `wasmreg validate` on modules refused for
// their imports or exports (testdata/refused, assembled by its
// regenerate.sh): each lists those problems and then its metadata's, read
// in a throw-away sandbox whose stubs stand in for the imports, or why the
// metadata could not be read, all in the one list.
func TestValidateRefusedModule(t *testing.T) {
	t.Parallel()
	const (
		bad        = "  ✗ error: host: bad metadata: wasmreg_info: "
		unknown    = "  ✗ error: host: unknown import: "
		mistyped   = "  ✗ error: host: mistyped import: "
		missing    = "  ✗ error: host: missing or mistyped export: "
		badVersion = bad + `field "version": version "1.0" is not a strict semantic version MAJOR.MINOR.PATCH[-PRERELEASE] (invalid semantic version); write "1.0.0"`
		frobnicate = unknown + "wasmreg.frobnicate is not part of ABI v1"
	)
	factory := func(fixture string) string {
		wasm, err := os.ReadFile(filepath.Join("testdata", "refused", fixture+".wasm"))
		require.NoError(t, err)
		return `  ✗ error: host: factory "sha256:` + host.Digest(wasm)[:12] + `" `
	}
	tests := []struct {
		fixture string
		flags   []string
		want    []string // the problems, in order
	}{
		{"unknown_import", nil, []string{
			frobnicate,
			bad + `unknown field "licence" (fields are "name", "version", "description", "config_schema", "capabilities", "tensors")`,
			badVersion,
		}},
		{"mistyped_import", nil, []string{
			mistyped + "wasmreg.log is imported as (i32, i32) -> (); ABI v1 declares log (level: i32, ptr: i32, len: i32) -> () (docs/ABI.md §4)",
			`  ✗ error: host: unknown capability: wasmreg_info: field "capabilities"[0] "teleport" is not a capability this host knows ("artifact", "clock", "log", "random")`,
		}},
		{"missing_exports", nil, []string{
			missing + "function wasmreg_abi_version () -> i32 is not exported",
			missing + "function wasmreg_predict (len: i32) -> i32 is not exported",
			bad + `field "name" "bad name!": base name has ' ' at byte 3; allowed are ASCII letters, digits, '.', '_' and '-'`,
		}},
		{"mistyped_export", nil, []string{
			missing + "function wasmreg_build is exported as () -> (i32); ABI v1 declares wasmreg_build (len: i32) -> i32 (docs/ABI.md §2)",
			bad + `tensors.inputs[0].datatype (tensor "x"): "FP99" is not one of "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"`,
			bad + `tensors.inputs[0].shape[0] (tensor "x"): -2 is not -1 (variable) or 0 to 16777216`,
			bad + `tensors.outputs[0]: field "name" is required`,
		}},
		// The metadata is right: only the import is wrong.
		{"mistyped_wasi", nil, []string{
			mistyped + "wasi_snapshot_preview1.fd_write is imported as (i32, i32, i32) -> (i32); this host's WASI declares it (i32, i32, i32, i32) -> (i32)",
		}},
		// A guest that calls a stub is stopped, naming the import.
		{"calls_unknown_import", nil, []string{
			unknown + `env.abort: module "env" is not provided (only "wasmreg" and "wasi_snapshot_preview1" are)`,
			factory("calls_unknown_import") + "export wasmreg_info: host: unknown import: the guest called env.abort, which the host does not provide as the module imports it",
		}},
		{"start_calls_mistyped", nil, []string{
			mistyped + "wasmreg.error is imported as (i32) -> (); ABI v1 declares error (ptr: i32, len: i32) -> () (docs/ABI.md §4)",
			factory("start_calls_mistyped") + "start function: host: mistyped import: the guest called wasmreg.error, which the host does not provide as the module imports it",
		}},
		// The sandbox has the same call timeout.
		{"spins", []string{"--timeout", "200ms"}, []string{
			frobnicate,
			factory("spins") + "export wasmreg_info: stopped at the time limit: the call timeout of 200ms or the caller's deadline passed (raise it with --timeout, or give the call a later deadline)",
		}},
		{"abi_version", nil, []string{
			frobnicate,
			"  ✗ error: host: unsupported abi version: module sha256:" + strings.TrimPrefix(factory("abi_version"), `  ✗ error: host: factory "sha256:`)[:12] +
				": wasmreg_abi_version returned 2, this host speaks version 1",
		}},
		// A memory over --memory-limit does not hide the metadata either.
		{"big_memory", nil, []string{
			frobnicate,
			"  ✗ error: host: memory limit exceeded: its memory needs at least 2000 pages (131072000 bytes), the limit is 67108864 bytes (raise it with --memory-limit)",
			badVersion,
		}},
		// Nothing to ask: no wasmreg_info; an imported memory.
		{"no_info", nil, []string{
			missing + "function wasmreg_info () -> i32 is not exported",
			frobnicate,
		}},
		{"imports_memory", nil, []string{
			missing + `memory "memory" is not exported`,
			unknown + "memory env.memory: a factory must define and export its own memory",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join("testdata", "refused", tc.fixture+".wasm")
			r := wasmreg(t, "", append(append([]string{"validate"}, tc.flags...), file)...)
			assert.Equal(t, 1, r.status, r.stderr)
			want := append([]string{file + ": does not speak wasmreg ABI v1 (" + plural(len(tc.want)) + "):"}, tc.want...)
			assert.Equal(t, want, strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n"))
			assert.Equal(t, []string{"wasmreg: 1 of 1 modules failed validation"}, r.stderrLines())
		})
	}
}

// plural is "1 problem" or "N problems".
func plural(n int) string {
	if n == 1 {
		return "1 problem"
	}
	return strconv.Itoa(n) + " problems"
}
