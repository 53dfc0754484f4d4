package factories_test

// Tests of the AssemblyScript SDK (guest-sdk/assemblyscript), its example
// and its capability clients, under the real host, compiled with the
// package's pinned asc (internal/wasmbuild); they skip if node or the
// package's node_modules are missing (make deps runs npm ci).

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

func asSDKWasm(t testing.TB, name, source string) []byte {
	t.Helper()
	wasm, err := wasmbuild.Shared.ASFactory(context.Background(), "as-"+name, source)
	if errors.Is(err, wasmbuild.ErrToolMissing) {
		t.Fatalf("AssemblyScript factories need node and asc (make deps installs them): %v", err)
	}
	require.NoError(t, err)
	return wasm
}

func TestASSDKExample(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The factory's own config checks, as a host made WithoutConfigValidation
	// leaves them (schema_test.go checks the host's).
	h, logs := cSDKHost(t, host.WithoutConfigValidation())
	f, err := h.Load(ctx, asSDKWasm(t, "scale", "example/scale.ts"))
	require.NoError(t, err)
	assert.Equal(t, "scale-as@1.0.0", f.Name())
	for _, imp := range importNames(f) {
		assert.NotEqual(t, "env.abort", imp)
		assert.NotContains(t, cSDKCapabilityImports, imp)
	}

	m := cSDKBuild(t, f, `{"factor": 2}`)
	out, err := m.Predict(ctx, []byte(` [1, 2.5, -3] `))
	require.NoError(t, err)
	assert.JSONEq(t, `[2,5,-6]`, string(out))

	for _, tc := range []struct{ name, config, msg string }{
		{"missing", `{}`, `config: field "factor": missing`},
		{"twice", `{"factor": 1, "factor": 2}`, `config: field "factor": appears more than once`},
		{"not a number", `{"factor": "2"}`, `config: malformed JSON at byte 11: expected a finite number`},
		{"unterminated", `{"factor": 2`, `config: malformed JSON at byte 12: unterminated object`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.Build(ctx, []byte(tc.config))
			assert.Equal(t, tc.msg, guestError(t, err, host.ExportBuild, 2))
		})
	}
	_, err = m.Predict(ctx, []byte("\x00\xff"))
	assert.Equal(t, "request: malformed JSON at byte 0: expected an array; want a JSON array of numbers",
		guestError(t, err, host.ExportPredict, 3))

	t.Run("abort traps", func(t *testing.T) {
		am := cSDKBuild(t, f, `{"factor": 1}`)
		_, err := am.Predict(ctx, []byte("abort"))
		require.ErrorIs(t, err, host.ErrTrap)
		// The abort handler logs and sets the message before trapping.
		assert.Contains(t, logs.String(), `level=ERROR msg="abort: asked to abort at example/scale.ts:`)
	})
}

func TestASSDKCapabilities(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	weights := make([]byte, 1<<20+3)
	for i := range weights {
		weights[i] = byte(i * 7)
	}
	h, logs := cSDKHost(t,
		host.WithGrants(host.CapClock, host.CapRandom, host.CapArtifact),
		host.WithArtifacts(host.ArtifactMap{"weights": weights, "empty": {}}))
	f, err := h.Load(ctx, asSDKWasm(t, "caps", "testdata/caps.ts"))
	require.NoError(t, err)
	assert.Subset(t, importNames(f), cSDKCapabilityImports)
	m := cSDKBuild(t, f, `{}`)
	predict := func(t *testing.T, in string) string {
		t.Helper()
		out, err := m.Predict(ctx, []byte(in))
		require.NoError(t, err, in)
		return string(out)
	}

	var now, m1, m2 int64
	_, err = fmt.Sscanf(predict(t, "clock"), "%d %d %d", &now, &m1, &m2)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), time.Unix(0, now), time.Minute)
	assert.GreaterOrEqual(t, m2, m1)

	for _, seed := range []uint64{0, 42, 1 << 63} {
		want := make([]byte, 100)
		host.NewChaCha8Random(seed).Fill(want)
		assert.Equal(t, hex.EncodeToString(want), predict(t, fmt.Sprintf("seed %d 100", seed)), "seed %d", seed)
	}

	assert.Equal(t, string(weights), predict(t, "artifact weights"))
	assert.Empty(t, predict(t, "artifact empty"))
	_, err = m.Predict(ctx, []byte("artifact nope"))
	assert.Equal(t, "artifact nope is absent (size -1)", guestError(t, err, host.ExportPredict, 4))

	predict(t, "log")
	for level, n := range map[string]int{"DEBUG": -4, "INFO": 0, "WARN": 4, "ERROR": 8} {
		assert.Contains(t, logs.String(), fmt.Sprintf(`level=%s msg="ascaps log at level %d"`, level, n))
	}

	am := cSDKBuild(t, f, `{}`)
	_, err = am.Predict(ctx, []byte("error-then-abort"))
	require.ErrorIs(t, err, host.ErrTrap)
	assert.Contains(t, logs.String(), `msg="abort: aborted on purpose" source=guest`)
}

// FuzzASSDKJSON sends documents to the AssemblyScript example, whose
// requests go through the SDK's parseNumbers: it never traps, and it
// accepts exactly the arrays of finite numbers that encoding/json reads.
func FuzzASSDKJSON(f *testing.F) {
	for _, doc := range []string{`[1, 2]`, ` [ -0.5e-3 ] `, `[]`, `[1,]`, `[01]`, `[1-2]`, `[1e999]`, `["a"]`, `[[1]]`,
		"[1]\x00", `{"a":1}`, `[1.5E+3, -0]`, `[1.]`, `[.5]`} {
		f.Add(doc)
	}
	ctx := context.Background()
	h, _ := cSDKHost(f)
	fac, err := h.Load(ctx, asSDKWasm(f, "scale", "example/scale.ts"))
	require.NoError(f, err)
	m, err := fac.BuildModel(ctx, []byte(`{"factor": 2}`))
	require.NoError(f, err)
	f.Cleanup(func() { _ = m.Close(ctx) })
	f.Fuzz(func(t *testing.T, doc string) {
		out, err := m.Predict(ctx, []byte(doc))
		require.NotErrorIs(t, err, host.ErrTrap, "doc %q", doc)
		var want []float64
		if json.Unmarshal([]byte(doc), &want) != nil || doc == "abort" {
			require.Error(t, err, "doc %q: encoding/json refuses it; got %s", doc, out)
			return
		}
		require.NoError(t, err, "doc %q", doc)
		var got []float64
		require.NoError(t, json.Unmarshal(out, &got), "doc %q: response %s", doc, out)
		require.Len(t, got, len(want))
		for i := range want {
			if w := 2 * want[i]; !math.IsInf(w, 0) {
				assert.Equal(t, w, got[i], "doc %q element %d", doc, i)
			}
		}
	})
}
