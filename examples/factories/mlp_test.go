package factories_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/examples/digits"
	"github.com/wasmreg/wasmreg/examples/mlpnet"
	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

// These tests run the mlp factory (mlp/) under the real host: seeded
// builds, the trained digits model against native mlpnet, batches and the
// errors of configs and requests.

// mlpWasm builds the mlp factory once per test binary and compiles it once
// into a wazero compilation cache, so that the tests' hosts, each given
// that cache with host.WithCompilationCacheDir, do not compile it again
// (under -race a compilation takes seconds).
func mlpWasm(t *testing.T) (wasm []byte, cacheDir string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the mlp factory with GOOS=wasip1")
	}
	root, err := wasmbuild.RepoRoot()
	require.NoError(t, err)
	path, err := wasmbuild.Shared.Get("mlp", func(out string) error {
		return wasmbuild.Go(context.Background(), root, "./examples/factories/mlp", out)
	})
	require.NoError(t, err)
	wasm, err = os.ReadFile(path)
	require.NoError(t, err)
	cacheDir = filepath.Join(filepath.Dir(path), "mlp-wazero-cache") // removed with the build directory
	mlpCompiled.once.Do(func() { mlpCompiled.err = mlpCompile(wasm, cacheDir) })
	require.NoError(t, mlpCompiled.err)
	return wasm, cacheDir
}

// mlpCompiled is the outcome of the one compilation into the cache.
var mlpCompiled struct {
	once sync.Once
	err  error
}

func mlpCompile(wasm []byte, cacheDir string) error {
	ctx := context.Background()
	// Under -race, beside the other packages' tests on a loaded machine,
	// this one compilation has taken over the default 30 s.
	h, err := host.New(ctx, host.WithCompilationCacheDir(cacheDir), host.WithGrants(host.CapRandom, host.CapArtifact),
		host.WithCompileTimeout(5*time.Minute))
	if err != nil {
		return err
	}
	defer h.Close(ctx)
	f, err := h.Load(ctx, wasm)
	if err != nil {
		return err
	}
	return f.Close(ctx)
}

// mlpFactory loads the mlp factory into a host granting random and
// artifact and serving artifacts, both closed when the test ends.
func mlpFactory(t *testing.T, artifacts host.ArtifactMap, opts ...host.Option) (*host.Factory, *testLogs) {
	t.Helper()
	wasm, cacheDir := mlpWasm(t)
	ctx := context.Background()
	logs := &testLogs{}
	h, err := host.New(ctx, append([]host.Option{
		host.WithCompilationCacheDir(cacheDir),
		host.WithGrants(host.CapRandom, host.CapArtifact),
		host.WithArtifacts(artifacts),
		host.WithLogger(slog.New(slog.NewTextHandler(logs, nil)))}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, h.Close(ctx)) })
	f, err := h.Load(ctx, wasm)
	require.NoError(t, err)
	return f, logs
}

func mlpBuild(t *testing.T, f *host.Factory, config string) *host.Model {
	t.Helper()
	m, err := f.BuildModel(context.Background(), []byte(config))
	require.NoError(t, err, "config %s", config)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

// mlpResult is the factory's answer for one sample.
type mlpResult struct {
	Class         int       `json:"class"`
	Label         *string   `json:"label"`
	Probabilities []float32 `json:"probabilities"`
	Values        []float32 `json:"values"`
}

func mlpPredict(t *testing.T, m *host.Model, request []byte) mlpResult {
	t.Helper()
	out, err := m.Predict(context.Background(), request)
	require.NoError(t, err)
	var r mlpResult
	require.NoError(t, json.Unmarshal(out, &r), "response %s", out)
	return r
}

func mlpPredictBatch(t *testing.T, m *host.Model, inputs [][]float32) []mlpResult {
	t.Helper()
	req, err := json.Marshal(map[string]any{"inputs": inputs})
	require.NoError(t, err)
	out, err := m.Predict(context.Background(), req)
	require.NoError(t, err)
	var resp struct {
		Outputs []mlpResult `json:"outputs"`
	}
	require.NoError(t, json.Unmarshal(out, &resp), "response %s", out)
	return resp.Outputs
}

func mlpJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// mlpGuestError asserts that err is the guest's error from export, with a
// message containing msg.
func mlpGuestError(t *testing.T, err error, export, msg string) {
	t.Helper()
	require.ErrorIs(t, err, host.ErrGuest)
	var ce *host.CallError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, export, ce.Export)
	assert.Contains(t, ce.Message, msg)
}

func TestMlpInfo(t *testing.T) {
	t.Parallel()
	f, _ := mlpFactory(t, host.ArtifactMap{})
	info := f.Info()
	assert.Equal(t, "mlp@1.0.0", f.Name())
	assert.Subset(t, info.Capabilities, []string{"artifact", "random"})
	var schema map[string]any
	require.NoError(t, json.Unmarshal(info.ConfigSchema, &schema))
	assert.Len(t, schema["oneOf"], 2, "two forms of config")

	t.Run("needs its grants", func(t *testing.T) {
		wasm, cacheDir := mlpWasm(t)
		h, err := host.New(context.Background(), host.WithCompilationCacheDir(cacheDir), host.WithGrants(host.CapRandom))
		require.NoError(t, err)
		defer h.Close(context.Background())
		_, err = h.Load(context.Background(), wasm)
		require.ErrorIs(t, err, host.ErrNotGranted)
		assert.ErrorContains(t, err, "artifact")
	})
}

// TestMlpSeededBuild checks that a config with a seed builds the same
// network every time, in the guest and natively.
func TestMlpSeededBuild(t *testing.T) {
	t.Parallel()
	f, logs := mlpFactory(t, host.ArtifactMap{})
	const config = `{"layers": [64, 32, 10], "activation": "relu", "output": "softmax", "seed": %d}`
	x := make([]float32, 64)
	for i := range x {
		x[i] = float32(i % 17)
	}
	request := mlpJSON(t, x)

	a := mlpPredict(t, mlpBuild(t, f, fmt.Sprintf(config, 42)), request)
	b := mlpPredict(t, mlpBuild(t, f, fmt.Sprintf(config, 42)), request)
	c := mlpPredict(t, mlpBuild(t, f, fmt.Sprintf(config, 43)), request)
	require.Len(t, a.Probabilities, 10)
	assert.Equal(t, a, b, "same config and seed, same model")
	assert.NotEqual(t, a.Probabilities, c.Probabilities, "another seed, another model")
	assert.Nil(t, a.Label, "no labels in the config")
	assert.Contains(t, logs.String(), "mlp: initialised weights")

	t.Run("same as native mlpnet", func(t *testing.T) {
		// The random capability is ChaCha8 keyed by the seed (docs/ABI.md
		// §4.2), and the factory draws as math/rand/v2's Float64 does.
		for _, tc := range []struct {
			layers []int
			seed   uint64
		}{
			{[]int{64, 32, 10}, 42},
			{[]int{64, 600, 10}, 7}, // 44400 weights: many chunks of draws
		} {
			config := fmt.Sprintf(`{"layers": %s, "seed": %d}`, mlpJSON(t, tc.layers), tc.seed)
			got := mlpPredict(t, mlpBuild(t, f, config), request)
			var key [32]byte
			binary.LittleEndian.PutUint64(key[:], tc.seed)
			n, err := mlpnet.New(tc.layers, "relu", "softmax")
			require.NoError(t, err)
			n.Init(rand.New(rand.NewChaCha8(key)).Float64)
			class, probs := n.Predict(x)
			assert.Equal(t, class, got.Class, config)
			assert.Equal(t, probs, got.Probabilities, "%s: bit for bit", config)
		}
	})

	t.Run("unseeded builds differ", func(t *testing.T) {
		const unseeded = `{"layers": [64, 32, 10]}`
		u := mlpPredict(t, mlpBuild(t, f, unseeded), request)
		v := mlpPredict(t, mlpBuild(t, f, unseeded), request)
		assert.NotEqual(t, u.Probabilities, v.Probabilities)
	})

	t.Run("options", func(t *testing.T) {
		m := mlpBuild(t, f, `{"layers": [3, 4, 2], "activation": "tanh", "output": "linear", "seed": 1, "input_scale": 0.5, "labels": ["no", "yes"]}`)
		r := mlpPredict(t, m, []byte(`[1, 2, 3]`))
		assert.Len(t, r.Values, 2, "linear outputs are values")
		assert.Nil(t, r.Probabilities)
		require.NotNil(t, r.Label)
		assert.Equal(t, []string{"no", "yes"}[r.Class], *r.Label)

		n, err := mlpnet.New([]int{3, 4, 2}, "tanh", "linear")
		require.NoError(t, err)
		var key [32]byte
		binary.LittleEndian.PutUint64(key[:], 1)
		n.Init(rand.New(rand.NewChaCha8(key)).Float64)
		n.InputScale = 0.5
		assert.Equal(t, n.Forward([]float32{1, 2, 3}, mlpnet.NewWorkspace(n)), r.Values)
	})
}

// TestMlpDigits runs the trained digits model in the guest on every
// held-out row and compares it with native mlpnet.
func TestMlpDigits(t *testing.T) {
	t.Parallel()
	f, logs := mlpFactory(t, host.ArtifactMap{"digits": digits.Weights})
	m := mlpBuild(t, f, `{"weights": "digits"}`)
	assert.Contains(t, logs.String(), "mlp: loaded weights artifact=digits")

	native, err := mlpnet.Decode(digits.Weights)
	require.NoError(t, err)
	ws := mlpnet.NewWorkspace(native)
	X, y, err := digits.HeldOutSamples()
	require.NoError(t, err)

	guest := make([]mlpResult, len(X))
	correct, nativeCorrect := 0, 0
	for i, x := range X {
		r := mlpPredict(t, m, mlpJSON(t, x))
		want := native.Forward(x, ws)
		require.Equal(t, native.Class(want), r.Class, "row %d: guest and native classes", i)
		require.Equal(t, want, r.Probabilities, "row %d: guest and native probabilities, bit for bit", i)
		require.NotNil(t, r.Label)
		require.Equal(t, strconv.Itoa(r.Class), *r.Label)
		guest[i] = r
		if r.Class == y[i] {
			correct++
		}
		if native.Class(want) == y[i] {
			nativeCorrect++
		}
	}
	acc := float64(correct) / float64(len(X))
	t.Logf("mlp factory (wasm) digits held-out accuracy: %.4f (%d/%d)", acc, correct, len(X))
	fmt.Printf("mlp factory (wasm) digits held-out accuracy: %.4f (%d/%d)\n", acc, correct, len(X))
	assert.Equal(t, nativeCorrect, correct, "same accuracy as native")
	assert.GreaterOrEqual(t, acc, 0.95)

	t.Run("batch", func(t *testing.T) {
		assert.Equal(t, guest, mlpPredictBatch(t, m, X))
		assert.Empty(t, mlpPredictBatch(t, m, [][]float32{}))
	})
}

func TestMlpRequestErrors(t *testing.T) {
	t.Parallel()
	f, _ := mlpFactory(t, host.ArtifactMap{"digits": digits.Weights})
	m := mlpBuild(t, f, `{"weights": "digits"}`)
	row := func(n int) string { return string(mlpJSON(t, make([]float32, n))) }
	tests := []struct {
		name, request, wantErr string
	}{
		{"short sample", row(63), "request: got 63 values, want 64"},
		{"long sample", row(65), "request: got 65 values, want 64"},
		{"empty", "", "request: want a JSON array of 64 numbers, or {\"inputs\""},
		{"not json", "hello", "request: want a JSON array of 64 numbers"},
		{"strings", `["a"]`, "request: want a JSON array of 64 numbers: json: cannot unmarshal string"},
		{"batch row", `{"inputs": [` + row(64) + `, [1, 2]]}`, "request: inputs[1]: got 2 values, want 64"},
		{"batch without inputs", `{}`, `request: field "inputs" is required`},
		{"batch typo", `{"input": []}`, `unknown field "input"`},
		{"huge value", `{"inputs": [[1e300` + row(64)[2:] + `]}`, "request: inputs[0]: value 0 is 1e+300, outside the float32 range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Predict(context.Background(), []byte(tc.request))
			mlpGuestError(t, err, host.ExportPredict, tc.wantErr)
		})
	}
	r := mlpPredict(t, m, []byte(" "+row(64)+"\n"))
	assert.Len(t, r.Probabilities, 10, "the model is still usable after errors")
}

func TestMlpConfigErrors(t *testing.T) {
	t.Parallel()
	// The factory's own config checks, as a host made WithoutConfigValidation
	// leaves them (schema_test.go checks the host's).
	f, _ := mlpFactory(t, host.ArtifactMap{"digits": digits.Weights, "junk": []byte("not weights")}, host.WithoutConfigValidation())
	tests := []struct {
		name, config, wantErr string
	}{
		{"empty", `{}`, `config: field "layers" (a new network, e.g. [64, 32, 10]) or "weights" (an artifact name, e.g. "digits") is required`},
		{"not an object", `[64, 10]`, "config: want a JSON object"},
		{"null", `null`, "config: want a JSON object"},
		{"unknown field", `{"layerz": [2, 2]}`, `config: unknown field "layerz"`},
		{"layers not an array", `{"layers": "64,10"}`, `config field "layers": want an array of integers`},
		{"one layer size", `{"layers": [64]}`, `config field "layers": mlpnet: invalid network: sizes [64]: want at least 2 sizes`},
		{"zero width", `{"layers": [64, 0, 10]}`, `config field "layers": mlpnet: invalid network: sizes[1] is 0`},
		{"too large", `{"layers": [4096, 2048]}`, `config field "layers": [4096 2048] has 8390656 parameters, this factory's limit is 4194304`},
		{"activation", `{"layers": [2, 2], "activation": "gelu"}`, `config field "activation": want one of relu, tanh, sigmoid, got "gelu"`},
		{"output", `{"layers": [2, 2], "output": 3}`, `config field "output": want one of softmax, sigmoid, linear, got 3`},
		{"negative seed", `{"layers": [2, 2], "seed": -1}`, `config field "seed": want an integer 0..18446744073709551615, got -1`},
		{"fractional seed", `{"layers": [2, 2], "seed": 1.5}`, `config field "seed"`},
		{"zero input scale", `{"layers": [2, 2], "input_scale": 0}`, `config field "input_scale": want a non-zero number, got 0`},
		{"labels", `{"layers": [2, 3], "labels": ["a"]}`, `config field "labels": want 3 strings, one per output`},
		{"empty weights", `{"weights": ""}`, `config field "weights": want the name of an artifact, got ""`},
		{"weights and layers", `{"weights": "digits", "layers": [64, 10]}`, `config field "layers": not allowed with "weights"`},
		{"weights and seed", `{"weights": "digits", "seed": 1}`, `config field "seed": not allowed with "weights"`},
		{"artifact not weights", `{"weights": "junk"}`, `config field "weights": artifact "junk": mlpnet: bad weights file: 11 bytes`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.Build(context.Background(), []byte(tc.config))
			mlpGuestError(t, err, host.ExportBuild, tc.wantErr)
		})
	}
}

func TestMlpMissingArtifact(t *testing.T) {
	t.Parallel()
	f, _ := mlpFactory(t, host.ArtifactMap{"other": digits.Weights})
	_, err := f.Build(context.Background(), []byte(`{"weights": "digits"}`))
	mlpGuestError(t, err, host.ExportBuild, `config field "weights": artifact "digits" not found: the host must grant it (the CLI: --grant artifact=digits=FILE)`)
	assert.ErrorContains(t, err, `"digits"`)

	m := mlpBuild(t, f, `{"weights": "other"}`)
	assert.Len(t, mlpPredict(t, m, mlpJSON(t, make([]float32, 64))).Probabilities, 10, "artifact names are the host's")
}

// TestMlpSingleSigmoidLabel is a regression test: a single sigmoid output
// has classes 0 and 1 but at most one label, and class 1 used to index past
// it.
func TestMlpSingleSigmoidLabel(t *testing.T) {
	t.Parallel()
	f, _ := mlpFactory(t, host.ArtifactMap{})
	m := mlpBuild(t, f, `{"layers": [1, 1], "output": "sigmoid", "labels": ["positive"], "seed": 3}`)
	seen := map[int]bool{}
	for _, x := range []float32{-1000, 1000} {
		r := mlpPredict(t, m, mlpJSON(t, []float32{x}))
		seen[r.Class] = true
		if r.Class == 0 {
			require.NotNil(t, r.Label)
			assert.Equal(t, "positive", *r.Label)
		} else {
			assert.Nil(t, r.Label, "class 1 has no label")
		}
	}
	assert.Len(t, seen, 2, "both classes were exercised")
}
