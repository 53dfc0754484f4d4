package factories_test

// Tests of the Rust SDK (guest-sdk/rust), its example and its capability
// clients, under the real host. The crates are built once per test binary
// with Debian's /usr/bin/cargo for wasm32-wasi (internal/wasmbuild), cargo's
// output cached in build/cargo; the tests skip if that toolchain is not
// installed (make deps installs it).

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/wasmbuild"
	"github.com/wasmreg/wasmreg/registry"
)

func rustSDKWasm(t testing.TB, name, crateDir, lib string) []byte {
	t.Helper()
	wasm, err := wasmbuild.Shared.RustFactory(context.Background(), "rust-"+name, crateDir, lib)
	if errors.Is(err, wasmbuild.ErrToolMissing) {
		t.Fatalf("Rust factories need Debian's Rust for wasm32-wasi (make deps installs it): %v", err)
	}
	require.NoError(t, err)
	return wasm
}

func rustScaleWasm(t testing.TB) []byte {
	return rustSDKWasm(t, "scale", "guest-sdk/rust/example", "scale")
}

func rustCapsWasm(t testing.TB) []byte {
	return rustSDKWasm(t, "caps", "guest-sdk/rust/testdata/caps", "rustcaps")
}

func TestRustSDKExample(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The factory's own config checks, as a host made WithoutConfigValidation
	// leaves them (schema_test.go checks the host's).
	h, logs := cSDKHost(t, host.WithoutConfigValidation())
	f, err := h.Load(ctx, rustScaleWasm(t))
	require.NoError(t, err)

	t.Run("metadata", func(t *testing.T) {
		info := f.Info()
		assert.Equal(t, "scale-rs@1.0.0", f.Name())
		assert.Contains(t, info.Description, "factor")
		assert.JSONEq(t, `{"type":"object","required":["factor"],"properties":{"factor":{"type":"number"}},"additionalProperties":false}`,
			string(info.ConfigSchema))
		assert.Equal(t, []string{host.CapLog}, info.Capabilities)
		sig, ok := f.Signature()
		require.True(t, ok, "the example declares its tensor signature")
		assert.Equal(t, host.Signature{
			Inputs:  []host.TensorSpec{{Name: "input", Datatype: "FP32", Shape: []int64{-1, -1}}},
			Outputs: []host.TensorSpec{{Name: "output", Datatype: "FP64", Shape: []int64{-1, -1}}},
		}, sig)
		for _, imp := range importNames(f) {
			assert.NotContains(t, cSDKCapabilityImports, imp, "the example imports no capability it does not use")
		}
	})

	m := cSDKBuild(t, f, `{"factor": 2}`)
	assert.Contains(t, logs.String(), "scale-rs built with factor 2")
	t.Run("predict", func(t *testing.T) {
		for _, tc := range []struct{ in, want string }{
			{`[1, 2, -3]`, `[2,4,-6]`},
			{` [0.25, 1e3] `, `[0.5,2000]`},
		} {
			out, err := m.Predict(ctx, []byte(tc.in))
			require.NoError(t, err, tc.in)
			assert.JSONEq(t, tc.want, string(out), tc.in)
		}
	})

	t.Run("bad config", func(t *testing.T) {
		for _, tc := range []struct{ name, config, msg string }{
			{"missing", `{}`, `config field "factor": missing`},
			{"string", `{"factor": "2"}`, `config field "factor": is a string, want a number`},
			{"twice", `{"factor": 1, "factor": 2}`, `config: malformed JSON at byte 14: a key appears more than once`},
			{"not JSON", `{"factor": 2`, `config: malformed JSON at byte 12: unterminated object`},
			{"too large", `{"factor": 1e999}`, `config: malformed JSON at byte 11: number too large for a double`},
			{"deep", repeat("[", 200), `config: malformed JSON at byte 128: nested too deeply`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.Build(ctx, []byte(tc.config))
				assert.Equal(t, tc.msg, guestError(t, err, host.ExportBuild, 2))
			})
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		_, err := m.Predict(ctx, []byte(`[]`))
		assert.Empty(t, guestError(t, err, host.ExportPredict, 1))
		assert.ErrorContains(t, err, "export wasmreg_predict returned code 1")
		_, err = m.Predict(ctx, []byte("[1, \"2\"]"))
		assert.Equal(t, "request: element 1 is a string, want a number", guestError(t, err, host.ExportPredict, 3))
		_, err = m.Predict(ctx, []byte("\x00\xff"))
		assert.Equal(t, "request: malformed JSON at byte 0: expected a value; want a JSON array of numbers",
			guestError(t, err, host.ExportPredict, 3))
		out, err := m.Predict(ctx, []byte(`[21]`))
		require.NoError(t, err, "a failed prediction leaves the model usable")
		assert.Equal(t, `[42]`, string(out))
	})

	t.Run("panic traps", func(t *testing.T) {
		pm := cSDKBuild(t, f, `{"factor": 1}`)
		_, err := pm.Predict(ctx, []byte("panic"))
		require.ErrorIs(t, err, host.ErrTrap)
		// The panic hook logs the message and sets it as the call's error
		// before trapping: the log has it, and the trap's reason too
		// (trap_test.go).
		assert.Contains(t, logs.String(), `level=ERROR msg="panicked at src/lib.rs:`)
		assert.Contains(t, logs.String(), `asked to panic"`)
		_, err = pm.Predict(ctx, []byte("[1]"))
		assert.Error(t, err, "a trap closes the model")
	})
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for range n {
		b = append(b, s...)
	}
	return string(b)
}

func TestRustSDKCapabilities(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	weights := make([]byte, 1<<20+3)
	for i := range weights {
		weights[i] = byte(i * 7)
	}
	h, logs := cSDKHost(t,
		host.WithGrants(host.CapClock, host.CapRandom, host.CapArtifact),
		host.WithArtifacts(host.ArtifactMap{"weights": weights, "empty": {}}))
	f, err := h.Load(ctx, rustCapsWasm(t))
	require.NoError(t, err)
	assert.Equal(t, "rustcaps@1.0.0-test", f.Name())
	assert.Equal(t, []string{host.CapArtifact, host.CapClock, host.CapRandom}, cSDKWithoutLog(f.Info().Capabilities))
	assert.Subset(t, importNames(f), cSDKCapabilityImports)

	m := cSDKBuild(t, f, `{}`)
	predict := func(t *testing.T, in string) string {
		t.Helper()
		out, err := m.Predict(ctx, []byte(in))
		require.NoError(t, err, in)
		return string(out)
	}

	t.Run("clock", func(t *testing.T) {
		var now, m1, m2 int64
		_, err := fmt.Sscanf(predict(t, "clock"), "%d %d %d", &now, &m1, &m2)
		require.NoError(t, err)
		assert.WithinDuration(t, time.Now(), time.Unix(0, now), time.Minute)
		assert.GreaterOrEqual(t, m2, m1)
	})

	t.Run("random", func(t *testing.T) {
		for _, seed := range []uint64{0, 42, 1 << 63} {
			want := make([]byte, 100)
			host.NewChaCha8Random(seed).Fill(want)
			assert.Equal(t, hex.EncodeToString(want), predict(t, fmt.Sprintf("seed %d 100", seed)), "seed %d", seed)
		}
		a, b := predict(t, "fill 32"), predict(t, "fill 32")
		assert.Len(t, a, 64)
		assert.NotEqual(t, a, b, "each call has its own stream")
	})

	t.Run("artifact", func(t *testing.T) {
		assert.Equal(t, string(weights), predict(t, "artifact weights"))
		assert.Empty(t, predict(t, "artifact empty"))
		_, err := m.Predict(ctx, []byte("artifact nope"))
		assert.Equal(t, `artifact "nope" is absent (size None)`, guestError(t, err, host.ExportPredict, 4))
	})

	t.Run("log", func(t *testing.T) {
		predict(t, "log")
		for level, n := range map[string]int{"DEBUG": -4, "INFO": 0, "WARN": 4, "ERROR": 8} {
			assert.Contains(t, logs.String(), fmt.Sprintf(`level=%s msg="rustcaps log at level %d"`, level, n))
		}
	})

	t.Run("failures", func(t *testing.T) {
		_, err := m.Predict(ctx, []byte("fail"))
		assert.Empty(t, guestError(t, err, host.ExportPredict, 7))
		_, err = m.Predict(ctx, []byte("nope"))
		assert.Equal(t, "unknown command nope", guestError(t, err, host.ExportPredict, 2))
	})

	t.Run("error then panic", func(t *testing.T) {
		pm := cSDKBuild(t, f, `{}`)
		_, err := pm.Predict(ctx, []byte("error-then-panic"))
		require.ErrorIs(t, err, host.ErrTrap)
		assert.Contains(t, logs.String(), "panicked on purpose: 42")
	})
}

// TestRustSDKNameRulesMatchRegistry checks, inside the guest, that the Rust
// SDK's Info::validate accepts a name and version exactly when
// registry.ParseName does.
func TestRustSDKNameRulesMatchRegistry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, _ := cSDKHost(t, host.WithGrants(host.CapClock, host.CapRandom, host.CapArtifact))
	f, err := h.Load(ctx, rustCapsWasm(t))
	require.NoError(t, err)
	m := cSDKBuild(t, f, `{}`)
	check := func(name, version string) {
		out, err := m.Predict(ctx, []byte("validate "+strconv.Itoa(len(name))+" "+name+version))
		require.NoError(t, err)
		_, _, regErr := registry.ParseName(name + "@" + version)
		if (string(out) == "ok") != (regErr == nil) {
			t.Errorf("name %q version %q: the Rust SDK says %s, registry.ParseName says %v", name, version, out, regErr)
		}
	}
	for _, name := range sdkNames {
		check(name, "1.0.0")
	}
	for _, version := range sdkVersions {
		check("m", version)
	}
}

// TestRustSDKCapabilitiesMatchHost compares the Rust SDK's CAPABILITIES
// with the host's list.
func TestRustSDKCapabilitiesMatchHost(t *testing.T) {
	t.Parallel()
	root, err := wasmbuild.RepoRoot()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "guest-sdk", "rust", "src", "lib.rs"))
	require.NoError(t, err)
	m := regexp.MustCompile(`pub const CAPABILITIES: \[&str; \d+\] = \[([^\]]*)\];`).FindSubmatch(b)
	require.NotNil(t, m, "lib.rs defines CAPABILITIES")
	var listed []string
	for _, q := range regexp.MustCompile(`"([^"]*)"`).FindAllSubmatch(m[1], -1) {
		listed = append(listed, string(q[1]))
	}
	assert.Equal(t, host.Capabilities(), listed)

	m = regexp.MustCompile(`pub const DATATYPES: \[&str; \d+\] = \[([^\]]*)\];`).FindSubmatch(b)
	require.NotNil(t, m, "lib.rs defines DATATYPES")
	listed = nil
	for _, q := range regexp.MustCompile(`"([^"]*)"`).FindAllSubmatch(m[1], -1) {
		listed = append(listed, string(q[1]))
	}
	assert.Equal(t, host.Datatypes(), listed, "the Rust SDK's DATATYPES")
}

// FuzzRustSDKJSON sends documents to the Rust example, whose requests go
// through the SDK's JSON reader: it never traps, and it accepts exactly
// the non-empty arrays of finite numbers that encoding/json reads, with
// the same values.
func FuzzRustSDKJSON(f *testing.F) {
	for _, doc := range []string{`[1, 2]`, ` [ -0.5e-3 ] `, `[]`, `[1,]`, `[01]`, `[1e999]`, `["a"]`, `[[1]]`,
		"[1]\x00", `{"a":1}`, `[1.5E+3, -0]`, "[\"\\ud800\"]", repeat("[", 300)} {
		f.Add(doc)
	}
	ctx := context.Background()
	h, _ := cSDKHost(f)
	fac, err := h.Load(ctx, rustScaleWasm(f))
	require.NoError(f, err)
	m, err := fac.BuildModel(ctx, []byte(`{"factor": 2}`))
	require.NoError(f, err)
	f.Cleanup(func() { _ = m.Close(ctx) })
	f.Fuzz(func(t *testing.T, doc string) {
		out, err := m.Predict(ctx, []byte(doc))
		require.NotErrorIs(t, err, host.ErrTrap, "doc %q", doc)
		var want []float64
		if json.Unmarshal([]byte(doc), &want) != nil || len(want) == 0 || doc == "panic" {
			require.Error(t, err, "doc %q: encoding/json refuses it or it is empty; got %s", doc, out)
			return
		}
		require.NoError(t, err, "doc %q", doc)
		var got []*float64
		require.NoError(t, json.Unmarshal(out, &got), "doc %q: response %s", doc, out)
		require.Len(t, got, len(want))
		for i := range want {
			if w := 2 * want[i]; !math.IsInf(w, 0) {
				require.NotNil(t, got[i])
				assert.Equal(t, w, *got[i], "doc %q element %d", doc, i)
			}
		}
	})
}
