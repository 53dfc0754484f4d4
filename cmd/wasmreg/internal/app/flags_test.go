package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/wasmreg/wasmreg/host"
)

func TestReorderArgs(t *testing.T) {
	tests := []struct {
		name string
		args string // space-separated, after "wasmreg"
		want string
	}{
		{"nothing", "", ""},
		{"command only", "run", "run"},
		{"flags already first", "run --config {} m.wasm", "run --config {} m.wasm"},
		{"flag after positional", "run m.wasm --config {}", "run --config {} m.wasm"},
		{"flag=value after positional", "run m.wasm --config={}", "run --config={} m.wasm"},
		{"single dash", "run m.wasm -config {}", "run -config {} m.wasm"},
		{"several flags around", "run --timeout 1s m.wasm --grant clock --grant random=7",
			"run --timeout 1s --grant clock --grant random=7 m.wasm"},
		{"bool flag takes no value", "inspect m.wasm --json other", "inspect --json m.wasm other"},
		{"bool flag=false", "inspect m.wasm --json=false", "inspect --json=false m.wasm"},
		{"help drops positionals", "run m.wasm --help", "run --help"},
		{"short help", "validate a.wasm -h b.wasm", "validate -h"},
		{"help=false keeps them", "run m.wasm --help=false", "run --help=false m.wasm"},
		{"global flag after command moves before it", "run m.wasm --dir d", "--dir d run m.wasm"},
		{"global flag=value after command", "list --dir=d", "--dir=d list"},
		{"global bool after command", "run m.wasm --no-cache", "--no-cache run m.wasm"},
		{"global flags on both sides", "--log-level debug run m.wasm --log-format json --config {}",
			"--log-level debug --log-format json run --config {} m.wasm"},
		{"double dash ends flags", "validate -- a.wasm --json", "validate -- a.wasm --json"},
		{"flags before double dash", "validate a.wasm --json -- -b.wasm", "validate --json -- a.wasm -b.wasm"},
		{"dash is positional", "run m.wasm - --config {}", "run --config {} m.wasm -"},
		{"value that looks like a flag", "run m.wasm --config -x", "run --config -x m.wasm"},
		{"unknown flag stays with command", "run m.wasm --bogus x", "run --bogus m.wasm x"},
		{"unknown command untouched", "frob m.wasm --config {}", "frob m.wasm --config {}"},
		{"help command untouched", "help run", "help run"},
		{"alias of a command", "ls --dir d", "--dir d ls"},
		{"double dash before command", "-- run x", "-- run x"},
		{"global flags only", "--dir d", "--dir d"},
	}
	a := New(nil, nil, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReorderArgs(a, append([]string{"wasmreg"}, strings.Fields(tc.args)...))
			require.NoError(t, err)
			assert.Equal(t, strings.Fields("wasmreg "+tc.want), got)
		})
	}
}

func TestReorderArgsDanglingValue(t *testing.T) {
	a := New(nil, nil, nil)
	for _, args := range [][]string{
		{"wasmreg", "run", "m.wasm", "--config"},
		{"wasmreg", "run", "m.wasm", "--dir"},
	} {
		_, err := ReorderArgs(a, args)
		require.Error(t, err, "%q", args)
		assert.Contains(t, err.Error(), "needs a value")
		assert.ErrorAs(t, err, new(usageError))
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr string
	}{
		{"65536", 65536, ""},
		{"64KiB", 64 << 10, ""},
		{"64k", 64 << 10, ""},
		{"64KB", 64 << 10, ""},
		{"128M", 128 << 20, ""},
		{"128mb", 128 << 20, ""},
		{"64MiB", 64 << 20, ""},
		{"64 MiB", 64 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"1.5G", 3 << 29, ""},
		{"4GiB", 4 << 30, ""},
		{"100B", 100, ""},
		{"0", 0, ""},
		{"", 0, "not a size"},
		{"MiB", 0, "not a size"},
		{"12x", 0, "not a size"},
		{"-1M", 0, "not a size"},
		{"1.2.3M", 0, "not a size"},
		{"0.3B", 0, "whole number"},
		{"99999999999999999999", 0, "too large"},
		{"20000000000T", 0, "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestSizeString(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "0", 12 << 30: "12GiB", 12052 << 20: "12052MiB", 4 << 10: "4KiB", 1536 << 10: "1536KiB", 100000: "100000",
	} {
		assert.Equal(t, want, sizeString(n))
		got, err := ParseSize(want)
		require.NoError(t, err)
		assert.Equal(t, n, got, "a size flag takes what the help says")
	}
}

// TestLimitFlagDefaults checks that every limit flag's default is the
// host's: the flags are written from the host's constants, so that the two
// cannot drift apart.
func TestLimitFlagDefaults(t *testing.T) {
	budget := host.DefaultMemoryBudget()
	want := map[string]any{
		flagTimeout:     host.DefaultCallTimeout,
		flagMemoryLimit: uint64(host.DefaultMemoryLimit),
		flagMaxInst:     host.DefaultMaxInstances,
		flagInputLimit:  uint64(host.DefaultInputLimit),
		flagOutputLimit: uint64(host.DefaultOutputLimit),
		flagModuleLimit: uint64(host.DefaultModuleSizeLimit),
		flagCompileTime: host.DefaultCompileTimeout,
		flagStackLimit:  uint64(host.DefaultStackLimit),
		flagTableLimit:  uint(host.DefaultTableLimit),
		flagLogLine:     uint64(host.DefaultLogLineLimit),
		flagLogLines:    host.DefaultLogLinesPerCall,
	}
	seen := map[string]bool{}
	for _, f := range limitFlags() {
		name := f.Names()[0]
		var got any
		switch f := f.(type) {
		case *cli.StringFlag:
			if f.Value == "" {
				continue // the budget: the host's default, which the usage shows
			}
			n, err := ParseSize(f.Value)
			require.NoError(t, err, "--%s default %q", name, f.Value)
			got = n
		case *cli.DurationFlag:
			got = f.Value
		case *cli.IntFlag:
			got = f.Value
		case *cli.UintFlag:
			got = f.Value
		default:
			continue
		}
		if w, ok := want[name]; ok {
			seen[name] = true
			assert.Equal(t, w, got, "--%s", name)
		}
	}
	assert.Len(t, seen, len(want), "every limit flag with a host default was checked: %v", seen)
	for _, f := range limitFlags() {
		if f.Names()[0] == flagBudget {
			assert.Contains(t, f.(*cli.StringFlag).Usage, "here "+sizeString(budget)+")", "the budget's usage shows the host's default")
		}
	}
}

func TestParseGrants(t *testing.T) {
	seed := func(n uint64) *uint64 { return &n }
	tests := []struct {
		name    string
		in      []string
		want    Grants
		wantErr string
	}{
		{"none", nil, Grants{Artifacts: map[string]string{}}, ""},
		{"clock", []string{"clock"}, Grants{Capabilities: []string{"clock"}, Artifacts: map[string]string{}}, ""},
		{"case-insensitive", []string{"CLOCK"}, Grants{Capabilities: []string{"clock"}, Artifacts: map[string]string{}}, ""},
		{"log is accepted and implied", []string{"log"}, Grants{Artifacts: map[string]string{}}, ""},
		{"random", []string{"random"}, Grants{Capabilities: []string{"random"}, Artifacts: map[string]string{}}, ""},
		{"random seed", []string{"random=42"},
			Grants{Capabilities: []string{"random"}, RandomSeed: seed(42), Artifacts: map[string]string{}}, ""},
		{"same seed twice", []string{"random=42", "random=42"},
			Grants{Capabilities: []string{"random"}, RandomSeed: seed(42), Artifacts: map[string]string{}}, ""},
		{"artifacts", []string{"artifact=w=a.bin", "artifact=v=b,c.bin", "clock", "clock"},
			Grants{Capabilities: []string{"artifact", "clock"}, Artifacts: map[string]string{"w": "a.bin", "v": "b,c.bin"}}, ""},
		{"artifact file with =", []string{"artifact=w=a=b.bin"},
			Grants{Capabilities: []string{"artifact"}, Artifacts: map[string]string{"w": "a=b.bin"}}, ""},
		{"artifact without value", []string{"artifact"}, Grants{}, "artifact=NAME=FILE"},
		{"artifact without file", []string{"artifact=w"}, Grants{}, "artifact=NAME=FILE"},
		{"artifact empty name", []string{"artifact==f"}, Grants{}, "artifact=NAME=FILE"},
		{"artifact twice", []string{"artifact=w=a", "artifact=w=b"}, Grants{}, "already granted"},
		{"bad seed", []string{"random=x"}, Grants{}, "seed must be an integer"},
		{"negative seed", []string{"random=-1"}, Grants{}, "seed must be an integer"},
		{"two seeds", []string{"random=1", "random=2"}, Grants{}, "already seeded"},
		{"clock with value", []string{"clock=1"}, Grants{}, "takes no value"},
		{"unknown", []string{"network"}, Grants{}, `unknown capability "network"`},
		{"empty", []string{""}, Grants{}, "unknown capability"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseGrants(tc.in)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.True(t, strings.HasPrefix(err.Error(), "--grant "), "the error names the flag: %v", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestGrantsOptions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "w.bin")
	require.NoError(t, os.WriteFile(file, []byte("weights"), 0o600))

	g, err := ParseGrants([]string{"artifact=w=" + file, "random=3"})
	require.NoError(t, err)
	opts, err := g.Options()
	require.NoError(t, err)
	assert.Len(t, opts, 3, "grants, seed, artifacts")

	g, err = ParseGrants([]string{"artifact=w=" + filepath.Join(dir, "missing.bin")})
	require.NoError(t, err)
	_, err = g.Options()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--grant artifact")
	assert.Contains(t, err.Error(), "missing.bin")
}

// TestGrantsCoverHostCapabilities checks that --grant takes every
// capability the host knows, and lists each in its usage and its errors:
// the CLI's list is host.Capabilities, not a copy.
func TestGrantsCoverHostCapabilities(t *testing.T) {
	_, unknown := ParseGrants([]string{"network"})
	require.Error(t, unknown)
	for _, c := range host.Capabilities() {
		value := c
		if c == host.CapArtifact {
			value = "artifact=w=weights.bin"
		}
		g, err := ParseGrants([]string{strings.ToUpper(value[:1]) + value[1:]})
		require.NoError(t, err, "--grant %s", value)
		if c == host.CapLog {
			assert.Empty(t, g.Capabilities, "log is always granted")
			continue
		}
		assert.Equal(t, []string{c}, g.Capabilities)
		assert.Contains(t, grantable(), grantSyntax(c))
		assert.Contains(t, unknown.Error(), grantSyntax(c), "the error lists what --grant takes")
	}
	assert.NotContains(t, grantable(), host.CapLog)
}
