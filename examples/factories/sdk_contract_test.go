package factories_test

// Contract tests between the guest SDKs and the host. The Go SDK is a
// module of its own that must not import the host, and the C SDK is a
// header, so each keeps its own copy of the name and version rules and of
// the capability list; these tests fail when a copy drifts from the one
// definition the host uses (registry.ParseName, host.Capabilities).

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	wasmreg "github.com/wasmreg/wasmreg/guest-sdk/go"
	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/wasmbuild"
	"github.com/wasmreg/wasmreg/registry"
)

// sdkNames and sdkVersions are names and versions, valid and invalid, at
// the edges of the rules (docs/ABI.md §5).
var (
	sdkNames = []string{
		"m", "mlp", "MLP", "my-model_v2.1", "a.b.c", "_", "-", ".", "..", "0", "9lives",
		strings.Repeat("a", registry.MaxBaseNameLen), strings.Repeat("a", registry.MaxBaseNameLen+1),
		"", " ", "my model", "mlp ", " mlp", "mlp@1.0.0", "@", "a/b", `a\b`, "a:b", "a+b", "a~b",
		"caf\u00e9", "\u212aelvin", "k\u0131", "mlp\x00", "mlp\n", "\x7f", "\xff", "\u202emlp",
	}
	sdkVersions = []string{
		"0.0.0", "1.0.0", "1.2.3", "10.20.30", "1.0.0-0", "1.0.0-rc.1", "1.0.0-RC.1", "1.0.0-alpha.beta",
		"1.0.0-0a", "1.0.0-a-b", "1.0.0--", "1.0.0-x.7.z.92", "1.0.0-00a", "1.0.0-a0",
		"18446744073709551615.0.0", "18446744073709551616.0.0", "99999999999999999999.0.0",
		"0.18446744073709551616.0", "0.0.18446744073709551616", "1.0.0-18446744073709551616",
		"", "1", "1.0", "1.0.0.0", "v1.0.0", "V1.0.0", "01.0.0", "1.01.0", "1.0.01", "1.0.0-01",
		"1.0.0-", "1.0.0-a..b", "1.0.0-.a", "1.0.0-a.", "1.0.0-a_b", "1.0.0-a+b", "1.0.0+b",
		"1.0.0+", "1.0.0-rc.1+b.2", " 1.0.0", "1.0.0 ", "-1.0.0", "1.-0.0", "1.0.-0", "a.b.c",
		"1..0", "1.0.0@1", "1.0.0-\u00e9", "１.0.0", "1.0.0\x00",
	}
)

// sdkAgreesWithRegistry checks that the Go SDK accepts a name and version
// exactly when registry.ParseName, which the host applies to every
// module's metadata, accepts name@version.
func sdkAgreesWithRegistry(t *testing.T, name, version string) {
	t.Helper()
	sdkErr := wasmreg.Info{Name: name, Version: version}.Validate()
	_, _, regErr := registry.ParseName(name + "@" + version)
	if (sdkErr == nil) != (regErr == nil) {
		t.Errorf("name %q version %q: the Go SDK says %v, registry.ParseName says %v", name, version, sdkErr, regErr)
	}
}

func TestGoSDKNameRulesMatchRegistry(t *testing.T) {
	t.Parallel()
	for _, name := range sdkNames {
		sdkAgreesWithRegistry(t, name, "1.0.0")
	}
	for _, version := range sdkVersions {
		sdkAgreesWithRegistry(t, "m", version)
	}
	// The table must exercise both sides of each rule.
	valid := func(name, version string) bool {
		_, _, err := registry.ParseName(name + "@" + version)
		return err == nil
	}
	for what, list := range map[string][]string{"names": sdkNames, "versions": sdkVersions} {
		ok := 0
		for _, v := range list {
			if what == "names" && valid(v, "1.0.0") || what == "versions" && valid("m", v) {
				ok++
			}
		}
		assert.Greater(t, ok, 5, "valid %s", what)
		assert.Greater(t, len(list)-ok, 5, "invalid %s", what)
	}
}

// FuzzGoSDKNameRules looks for a name or version that the Go SDK and
// registry.ParseName judge differently.
func FuzzGoSDKNameRules(f *testing.F) {
	for _, n := range sdkNames {
		f.Add(n, "1.0.0")
	}
	for _, v := range sdkVersions {
		f.Add("m", v)
	}
	f.Fuzz(func(t *testing.T, name, version string) {
		sdkAgreesWithRegistry(t, name, version)
	})
}

func TestGoSDKCapabilitiesMatchHost(t *testing.T) {
	t.Parallel()
	assert.Equal(t, host.Capabilities(), wasmreg.Capabilities())
	for _, c := range host.Capabilities() {
		assert.NoError(t, wasmreg.Info{Name: "m", Version: "1.0.0", Capabilities: []string{c}}.Validate(), "the SDK accepts %q", c)
	}
	assert.Error(t, wasmreg.Info{Name: "m", Version: "1.0.0", Capabilities: []string{"network"}}.Validate())
}

// TestGoSDKSignatureRulesMatchHost: the SDK's datatypes are the host's,
// and what the SDK accepts or refuses as a signature, the host accepts or
// refuses as metadata.
func TestGoSDKSignatureRulesMatchHost(t *testing.T) {
	t.Parallel()
	assert.Equal(t, host.Datatypes(), wasmreg.Datatypes())
	ctx := context.Background()
	h, err := host.New(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(ctx) })
	tensor := func(name, dt string, shape ...int64) wasmreg.Tensor {
		return wasmreg.Tensor{Name: name, Datatype: dt, Shape: shape}
	}
	for _, tc := range []struct {
		name            string
		inputs, outputs []wasmreg.Tensor
	}{
		{"rows", []wasmreg.Tensor{tensor("x", "FP32", -1, 64)}, []wasmreg.Tensor{tensor("class", "INT64", -1)}},
		{"scalar", []wasmreg.Tensor{tensor("x", "BYTES")}, nil},
		{"largest dim", nil, []wasmreg.Tensor{tensor("y", "UINT8", 1<<24)}},
		{"dim too large", []wasmreg.Tensor{tensor("x", "FP32", 1<<24+1)}, nil},
		{"dim -2", []wasmreg.Tensor{tensor("x", "FP32", -2)}, nil},
		{"bad datatype", []wasmreg.Tensor{tensor("x", "FP8")}, nil},
		{"two inputs", []wasmreg.Tensor{tensor("a", "FP32"), tensor("b", "FP32")}, nil},
		{"17 outputs", nil, slices.Repeat([]wasmreg.Tensor{tensor("a", "FP32")}, 17)},
		{"duplicate", nil, []wasmreg.Tensor{tensor("a", "FP32"), tensor("a", "FP64")}},
		{"control char", []wasmreg.Tensor{tensor("a\x7f", "FP32")}, nil},
		{"unicode", []wasmreg.Tensor{tensor("größe", "FP32")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := wasmreg.Info{Name: "m", Version: "1.0.0", Inputs: tc.inputs, Outputs: tc.outputs}
			sdkErr := info.Validate()
			_, hostErr := h.Load(ctx, metadataModule(signatureMetadata(info)))
			assert.Equal(t, sdkErr == nil, hostErr == nil, "SDK: %v; host: %v", sdkErr, hostErr)
		})
	}
}

// TestCHeaderCapabilitiesMatchHost reads the capability names that
// guest-sdk/c/wasmreg.h documents, in WASMREG_INFO's list of metadata
// fields and in the heading of each capability's section, and compares
// them with the host's.
func TestCHeaderCapabilitiesMatchHost(t *testing.T) {
	t.Parallel()
	root, err := wasmbuild.RepoRoot()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "guest-sdk", "c", "wasmreg.h"))
	require.NoError(t, err)
	header := string(b)

	// " * object), capabilities (any of "log", "clock", "random", "artifact")."
	m := regexp.MustCompile(`capabilities \(any of ([^)]*)\)`).FindStringSubmatch(header)
	require.NotNil(t, m, "wasmreg.h lists the capabilities WASMREG_INFO's metadata may name")
	var listed []string
	for _, q := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(m[1], -1) {
		listed = append(listed, q[1])
	}
	slices.Sort(listed)
	assert.Equal(t, host.Capabilities(), listed, "the capabilities WASMREG_INFO's comment lists")

	// " * Capability "clock" (grant: clock)" and " * Logging (the "log"
	// capability, always granted)".
	var sections []string
	for _, s := range regexp.MustCompile(`(?m)^ \* (?:Capability "([a-z]+)" \(grant: ([a-z]+)|Logging \(the "([a-z]+)" capability, always granted\))`).FindAllStringSubmatch(header, -1) {
		switch {
		case s[1] != "":
			assert.Equal(t, s[1], s[2], "capability %q is granted by its own name", s[1])
			sections = append(sections, s[1])
		default:
			assert.Equal(t, host.CapLog, s[3])
			sections = append(sections, s[3])
		}
	}
	slices.Sort(sections)
	assert.Equal(t, host.Capabilities(), sections, "every capability has its section of typed clients in wasmreg.h")
}

// signatureMetadata renders info's metadata as the Go SDK does, but without
// its validation, so that the host judges what the SDK would refuse.
func signatureMetadata(info wasmreg.Info) []byte {
	type tensor struct {
		Name     string  `json:"name"`
		Datatype string  `json:"datatype"`
		Shape    []int64 `json:"shape"`
	}
	conv := func(list []wasmreg.Tensor) []tensor {
		var out []tensor
		for _, t := range list {
			out = append(out, tensor{Name: t.Name, Datatype: t.Datatype, Shape: append([]int64{}, t.Shape...)})
		}
		return out
	}
	tensors := map[string]any{}
	if len(info.Inputs) > 0 {
		tensors["inputs"] = conv(info.Inputs)
	}
	if len(info.Outputs) > 0 {
		tensors["outputs"] = conv(info.Outputs)
	}
	b, _ := json.Marshal(map[string]any{"name": info.Name, "version": info.Version, "tensors": tensors})
	return b
}

// metadataModule encodes the smallest factory whose wasmreg_info writes
// md: the ABI's exports, importing only wasmreg.output, md in a data
// segment at address 0.
func metadataModule(md []byte) []byte {
	uleb := func(b []byte, v uint64) []byte {
		for {
			c := byte(v & 0x7f)
			v >>= 7
			if v == 0 {
				return append(b, c)
			}
			b = append(b, c|0x80)
		}
	}
	sleb := func(b []byte, v int64) []byte {
		for {
			c := byte(v & 0x7f)
			v >>= 7
			if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
				return append(b, c)
			}
			b = append(b, c|0x80)
		}
	}
	name := func(b []byte, s string) []byte { return append(uleb(b, uint64(len(s))), s...) }
	section := func(out []byte, id byte, body []byte) []byte {
		return append(uleb(append(out, id), uint64(len(body))), body...)
	}
	out := []byte("\x00asm\x01\x00\x00\x00")
	// types: () -> i32, (i32) -> i32, (i32, i32) -> ()
	out = section(out, 1, []byte{3, 0x60, 0, 1, 0x7f, 0x60, 1, 0x7f, 1, 0x7f, 0x60, 2, 0x7f, 0x7f, 0})
	out = section(out, 2, append(name(name([]byte{1}, "wasmreg"), "output"), 0, 2))
	out = section(out, 3, []byte{4, 0, 0, 1, 1})
	out = section(out, 5, uleb([]byte{1, 0}, uint64(len(md))/65536+1))
	exports := []byte{5}
	exports = append(name(exports, "memory"), 2, 0)
	for i, e := range []string{"wasmreg_abi_version", "wasmreg_info", "wasmreg_build", "wasmreg_predict"} {
		exports = append(name(exports, e), 0, byte(i+1))
	}
	out = section(out, 7, exports)
	fn := func(code []byte) []byte { return append(uleb(nil, uint64(len(code)+1)), append([]byte{0}, code...)...) }
	info := sleb([]byte{0x41, 0, 0x41}, int64(len(md)))
	info = append(info, 0x10, 0, 0x41, 0, 0x0b)
	code := []byte{4}
	code = append(code, fn([]byte{0x41, 1, 0x0b})...)
	code = append(code, fn(info)...)
	code = append(code, fn([]byte{0x41, 0, 0x0b})...)
	code = append(code, fn([]byte{0x41, 0, 0x0b})...)
	out = section(out, 10, code)
	out = section(out, 11, append(uleb([]byte{1, 0, 0x41, 0, 0x0b}, uint64(len(md))), md...))
	return out
}
