package factories_test

// Contract tests between the guest SDKs and the host. The Go SDK is a
// module of its own that must not import the host, and the C SDK is a
// header, so each keeps its own copy of the name and version rules and of
// the capability list; these tests fail when a copy drifts from the one
// definition the host uses (registry.ParseName, host.Capabilities).

import (
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
