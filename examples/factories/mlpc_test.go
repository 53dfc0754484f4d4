package factories_test

// Tests of the mlpc factory (mlpc/mlpc.c), the C version of the mlp
// factory, under the real host: the digits model against native mlpnet,
// bit for bit, in its SIMD and scalar builds; responses byte for byte as
// the Go factory writes them; the request forms and the errors of configs,
// requests and weights files.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/examples/digits"
	"github.com/wasmreg/wasmreg/examples/mlpnet"
	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

// mlpcBuilds are the ways the factory is compiled: with wasm SIMD (as the
// Makefile builds it), without, and with SIMD on but the scalar dense
// layers forced. All must give the same bits.
var mlpcBuilds = []struct {
	name  string
	flags []string
	simd  string // what the build's log line says
}{
	{"simd128", []string{"-msimd128"}, "on"},
	{"scalar", nil, "off"},
	{"simd128-forced-scalar", []string{"-msimd128", "-DMLPC_SCALAR"}, "off"},
}

// mlpcWasm compiles the factory with the given extra clang flags, once
// per test binary.
func mlpcWasm(t testing.TB, name string, flags ...string) []byte {
	t.Helper()
	wasm, err := wasmbuild.Shared.CFactory(context.Background(), "mlpc-"+name, "examples/factories/mlpc/mlpc.c", flags...)
	if errors.Is(err, wasmbuild.ErrToolMissing) {
		t.Fatalf("C factories need clang for wasm32-wasi (run make deps): %v", err)
	}
	require.NoError(t, err)
	return wasm
}

// mlpcSIMDWasm is the factory as the Makefile builds it.
func mlpcSIMDWasm(t testing.TB) []byte { return mlpcWasm(t, "simd128", "-msimd128") }

// mlpcFactory loads wasm into a host granting artifact and serving
// artifacts, logging into the returned logs; both closed with the test.
func mlpcFactory(t testing.TB, wasm []byte, artifacts host.ArtifactMap, opts ...host.Option) (*host.Factory, *testLogs) {
	t.Helper()
	ctx := context.Background()
	logs := &testLogs{}
	h, err := host.New(ctx, append([]host.Option{
		host.WithGrants(host.CapArtifact),
		host.WithArtifacts(artifacts),
		host.WithLogger(slog.New(slog.NewTextHandler(logs, nil))),
	}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, h.Close(ctx)) })
	f, err := h.Load(ctx, wasm)
	require.NoError(t, err)
	return f, logs
}

func mlpcBuild(t testing.TB, f *host.Factory, config string) *host.Model {
	t.Helper()
	m, err := f.BuildModel(context.Background(), []byte(config))
	require.NoError(t, err, "config %s", config)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

func mlpcJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// mlpcResult is the Go mlp factory's result struct: marshalled, it is the
// response the C factory must write byte for byte.
type mlpcResult struct {
	Class         int       `json:"class"`
	Label         *string   `json:"label,omitempty"`
	Probabilities []float32 `json:"probabilities,omitempty"`
	Values        []float32 `json:"values,omitempty"`
}

// mlpcWant is what the Go factory answers for x, computed natively.
func mlpcWant(n *mlpnet.Network, x []float32) mlpcResult {
	y := n.Forward(x, mlpnet.NewWorkspace(n))
	r := mlpcResult{Class: n.Class(y)}
	if r.Class < len(n.Labels) {
		r.Label = &n.Labels[r.Class]
	}
	if n.Output == "linear" {
		r.Values = append([]float32(nil), y...)
	} else {
		r.Probabilities = append([]float32(nil), y...)
	}
	return r
}

func TestMlpcInfo(t *testing.T) {
	t.Parallel()
	f, _ := mlpcFactory(t, mlpcSIMDWasm(t), host.ArtifactMap{})
	assert.Equal(t, "mlpc@1.0.0", f.Name())
	info := f.Info()
	assert.Equal(t, []string{"artifact"}, goSDKWithoutLog(info.Capabilities))
	var schema map[string]any
	require.NoError(t, json.Unmarshal(info.ConfigSchema, &schema))
	assert.Equal(t, []any{"weights"}, schema["required"])
	imports := importNames(f)
	assert.Subset(t, imports, []string{"wasmreg.artifact_size", "wasmreg.artifact_read"})
	for _, name := range []string{"random_fill", "random_seed", "clock_now", "clock_monotonic"} {
		assert.NotContains(t, imports, "wasmreg."+name)
	}
}

// TestMlpcDigits runs the digits model on every held-out row in every
// build and compares it with native mlpnet: the same classes, the same
// probabilities bit for bit, and the response the Go factory writes, byte
// for byte.
func TestMlpcDigits(t *testing.T) {
	t.Parallel()
	native, err := mlpnet.Decode(digits.Weights)
	require.NoError(t, err)
	X, y, err := digits.HeldOutSamples()
	require.NoError(t, err)
	require.Len(t, X, 360)

	for _, b := range mlpcBuilds {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f, logs := mlpcFactory(t, mlpcWasm(t, b.name, b.flags...), host.ArtifactMap{"digits": digits.Weights})
			m := mlpcBuild(t, f, `{"weights": "digits"}`)
			assert.Contains(t, logs.String(), "mlpc: loaded weights artifact=digits sizes=[64 32 10] activation=relu output=softmax params=2410 simd128="+b.simd)

			ctx := context.Background()
			singles := make([]string, len(X))
			correct := 0
			for i, x := range X {
				out, err := m.Predict(ctx, mlpcJSON(t, x))
				require.NoError(t, err, "row %d", i)
				want := mlpcWant(native, x)
				require.Equal(t, string(mlpcJSON(t, want)), string(out), "row %d: the Go factory's response, byte for byte", i)
				var got mlpcResult
				require.NoError(t, json.Unmarshal(out, &got))
				require.Equal(t, want.Probabilities, got.Probabilities, "row %d: probabilities bit for bit", i)
				singles[i] = string(out)
				if got.Class == y[i] {
					correct++
				}
			}
			t.Logf("mlpc (%s) digits held-out accuracy: %.4f (%d/%d)", b.name, float64(correct)/float64(len(X)), correct, len(X))

			t.Run("batch equals singles", func(t *testing.T) {
				out, err := m.Predict(ctx, mlpcJSON(t, map[string]any{"inputs": X}))
				require.NoError(t, err)
				assert.Equal(t, `{"outputs":[`+strings.Join(singles, ",")+`]}`, string(out))
				out, err = m.Predict(ctx, []byte(`{"inputs": []}`))
				require.NoError(t, err)
				assert.Equal(t, `{"outputs":[]}`, string(out))
			})
		})
	}
}

// mlpcNetwork returns a network with weights from seed, encoded.
func mlpcNetwork(t testing.TB, sizes []int, activation, output string, seed uint64, scale float32, labels []string) (*mlpnet.Network, []byte) {
	t.Helper()
	n, err := mlpnet.New(sizes, activation, output)
	require.NoError(t, err)
	n.Init(rand.New(rand.NewPCG(seed, 1)).Float64)
	r := rand.New(rand.NewPCG(seed, 2))
	for l := range n.Layers {
		for i := range n.Layers[l].B {
			n.Layers[l].B[i] = float32(r.NormFloat64())
		}
	}
	n.InputScale, n.Labels = scale, labels
	b, err := n.MarshalBinary()
	require.NoError(t, err)
	return n, b
}

// TestMlpcNetworks checks other shapes and functions against native
// mlpnet, byte for byte: every activation and output, input sizes that are
// not multiples of 4, labels that need escaping, and a linear layer whose
// outputs are arbitrary float32 values (denormals, huge, negative zero...),
// which tests the float formatting.
func TestMlpcNetworks(t *testing.T) {
	t.Parallel()
	odd := []string{"<a&b>", "quote\" back\\slash", "new\nline\ttab\x01\b\f", "é ü 中文 🙂", "line\u2028para\u2029", ""}
	nets := map[string]struct {
		sizes              []int
		activation, output string
		scale              float32
		labels             []string
	}{
		"tanh-sigmoid":    {[]int{7, 13, 5, 3}, "tanh", "sigmoid", 0.5, nil},
		"sigmoid-softmax": {[]int{5, 9, 6}, "sigmoid", "softmax", 1, odd},
		"relu-linear":     {[]int{130, 67, 4}, "relu", "linear", 1.0 / 16, []string{"a", "b", "c", "d"}},
		"single-sigmoid":  {[]int{3, 1}, "relu", "sigmoid", 1, []string{"yes"}},
		"one-input":       {[]int{1, 1}, "relu", "softmax", 1, nil},
	}
	artifacts := host.ArtifactMap{}
	natives := map[string]*mlpnet.Network{}
	for name, c := range nets {
		natives[name], artifacts[name] = mlpcNetwork(t, c.sizes, c.activation, c.output, uint64(len(name)), c.scale, c.labels)
	}

	// float32 values that exercise every branch of the shortest formatting.
	values := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.1, 1e-6, 9.999999e-7, 1e21, 9.99999e20, 123456789,
		math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 1.17549435e-38, 16777216, 3.4e38, 5e-45}
	r := rand.New(rand.NewPCG(7, 7))
	for len(values) < 4000 {
		if v := math.Float32frombits(r.Uint32()); !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
			values = append(values, v)
		}
	}
	// A scale that is not zero but rounds to a float32 zero: mlpnet
	// reads it as 1.
	artifacts["tiny-scale"] = mlpcFile(mlpnet.Magic,
		`{"sizes":[2,3],"activation":"relu","output":"softmax","input_scale":1e-50}`, mlpcFloats(9, 0.5))
	tiny, err := mlpnet.Decode(artifacts["tiny-scale"])
	require.NoError(t, err)
	require.Equal(t, float32(1), tiny.Scale())
	natives["tiny-scale"] = tiny

	linear, err := mlpnet.New([]int{1, len(values)}, "relu", "linear")
	require.NoError(t, err)
	copy(linear.Layers[0].W, values)
	natives["values"] = linear
	artifacts["values"], err = linear.MarshalBinary()
	require.NoError(t, err)

	for _, b := range mlpcBuilds[:2] {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f, _ := mlpcFactory(t, mlpcWasm(t, b.name, b.flags...), artifacts)
			for name, n := range natives {
				t.Run(name, func(t *testing.T) {
					m := mlpcBuild(t, f, fmt.Sprintf(`{"weights": %q}`, name))
					r := rand.New(rand.NewPCG(uint64(len(name)), 3))
					var batch [][]float32
					var singles []string
					for range 20 {
						x := make([]float32, n.InputSize())
						for i := range x {
							x[i] = float32(r.NormFloat64() * 4)
						}
						if name == "values" {
							x[0] = 1
						}
						out, err := m.Predict(context.Background(), mlpcJSON(t, x))
						require.NoError(t, err)
						require.Equal(t, string(mlpcJSON(t, mlpcWant(n, x))), string(out))
						batch, singles = append(batch, x), append(singles, string(out))
					}
					out, err := m.Predict(context.Background(), mlpcJSON(t, map[string]any{"inputs": batch}))
					require.NoError(t, err)
					assert.Equal(t, `{"outputs":[`+strings.Join(singles, ",")+`]}`, string(out))
				})
			}
		})
	}
}

// TestMlpcRequestForms sends the same samples written in other valid
// ways; the answers must not change.
func TestMlpcRequestForms(t *testing.T) {
	t.Parallel()
	f, _ := mlpcFactory(t, mlpcSIMDWasm(t), host.ArtifactMap{"digits": digits.Weights})
	m := mlpcBuild(t, f, `{"weights": "digits"}`)
	native, err := mlpnet.Decode(digits.Weights)
	require.NoError(t, err)
	X, _, err := digits.HeldOutSamples()
	require.NoError(t, err)
	x := X[2]

	// Each number of x written another way: exponents, fractions, long
	// digit strings (beyond the fast path), and as float64 text.
	forms := []func(v float32) string{
		func(v float32) string { return strconv.FormatFloat(float64(v), 'e', -1, 32) },
		func(v float32) string { return strconv.FormatFloat(float64(v)*10, 'f', -1, 64) + "E-1" },
		func(v float32) string { return strconv.FormatFloat(float64(v), 'f', 30, 64) },
		func(v float32) string { return strconv.FormatFloat(float64(v)/1e6, 'f', -1, 64) + "e6" },
		func(v float32) string {
			if v == 0 {
				return "0.00000000000000000000000000"
			}
			return strconv.Itoa(int(v)) + "0000000000000000000000000e-25"
		},
	}
	want := string(mlpcJSON(t, mlpcWant(native, x)))
	for i, form := range forms {
		parts := make([]string, len(x))
		for j, v := range x {
			parts[j] = form(v)
		}
		req := "\n[ " + strings.Join(parts, " ,\t") + " ]\r\n"
		out, err := m.Predict(context.Background(), []byte(req))
		require.NoError(t, err, "form %d: %s", i, req)
		assert.Equal(t, want, string(out), "form %d: %s", i, req)
	}

	// Numbers need Go's rounding: decimal to float64 (correctly rounded),
	// then to float32.
	tricky := []string{"0.1", "1.00000005960464477539062500001", "16777217", "3.4028235677973366e+38",
		"1e-46", "-0", "7.038531e-26", "0.3333333333333333333333333333333333", "123456789012345678901234567890"}
	for _, s := range tricky {
		req := "[" + s + strings.Repeat(",0", 63) + "]"
		out, err := m.Predict(context.Background(), []byte(req))
		if f, _ := strconv.ParseFloat(s, 64); math.Abs(f) > math.MaxFloat32 {
			assert.Contains(t, guestError(t, err, host.ExportPredict, 3), "outside the float32 range")
			continue
		}
		require.NoError(t, err, s)
		var xs []float64
		require.NoError(t, json.Unmarshal([]byte(req), &xs))
		v := make([]float32, len(xs))
		for i := range xs {
			v[i] = float32(xs[i])
		}
		assert.Equal(t, string(mlpcJSON(t, mlpcWant(native, v))), string(out), s)
	}

	// Batches written otherwise: Go matches the field name ignoring case,
	// and keeps the last of duplicate fields.
	row := string(mlpcJSON(t, x))
	one := `{"outputs":[` + want + `]}`
	for _, req := range []string{
		`{"Inputs":[` + row + `]}`,
		`{"inputs":[[1,2]],"inputs":[` + row + `]}`,
		`{"\u0069nputs":[` + row + `]}`,
		` { "inputs" : [ ` + row + ` ] } `,
	} {
		out, err := m.Predict(context.Background(), []byte(req))
		require.NoError(t, err, req)
		assert.Equal(t, one, string(out), req)
	}
}

func TestMlpcRequestErrors(t *testing.T) {
	t.Parallel()
	f, _ := mlpcFactory(t, mlpcSIMDWasm(t), host.ArtifactMap{"digits": digits.Weights})
	m := mlpcBuild(t, f, `{"weights": "digits"}`)
	row := func(n int) string { return string(mlpcJSON(t, make([]float32, n))) }
	const batch = `request: want {"inputs": [[64 numbers], ...]}: `
	tests := []struct {
		name, request, wantErr string
	}{
		{"short sample", row(63), "request: got 63 values, want 64"},
		{"long sample", row(65), "request: got 65 values, want 64"},
		{"empty sample", "[]", "request: got 0 values, want 64"},
		{"empty", "", "request: want a JSON array of 64 numbers, or {\"inputs\": [[...], ...]} for a batch"},
		{"spaces", " \n ", "request: want a JSON array of 64 numbers, or {\"inputs\""},
		{"not json", "hello", "request: want a JSON array of 64 numbers"},
		{"null", "null", "request: want a JSON array of 64 numbers"},
		{"strings", `["a"]`, "request: want a JSON array of 64 numbers: element 0 is a string, want a number"},
		{"null element", `[0, null]`, "request: want a JSON array of 64 numbers: element 1 is null, want a number"},
		{"malformed", `[1, 2,]`, "request: want a JSON array of 64 numbers: malformed JSON at byte 6 (']'): expected a value"},
		{"trailing data", row(64) + " x", "request: want a JSON array of 64 numbers: malformed JSON at byte"},
		{"leading zero", `[01` + row(64)[2:], "request: want a JSON array of 64 numbers: malformed JSON"},
		{"beyond double", `[1e999` + row(64)[2:], "request: want a JSON array of 64 numbers: element 0: number 1e999 is too large for a double"},
		{"beyond float32", `[0, -1e39` + row(64)[4:], "request: value 1 is -1e+39, outside the float32 range"},
		{"batch row", `{"inputs": [` + row(64) + `, [1, 2]]}`, "request: inputs[1]: got 2 values, want 64"},
		{"batch null row", `{"inputs": [` + row(64) + `, null]}`, "request: inputs[1]: got 0 values, want 64"},
		{"batch without inputs", `{}`, `request: field "inputs" is required`},
		{"batch null inputs", `{"inputs": null}`, `request: field "inputs" is required`},
		{"batch typo", `{"input": []}`, batch + `unknown field "input"`},
		{"batch inputs not array", `{"inputs": {"a": 1}}`, batch + `field "inputs" is an object`},
		{"batch row not array", `{"inputs": [` + row(64) + `, 5]}`, batch + `inputs[1] is a number`},
		{"batch type error first", `{"inputs": [[1], ["x"]]}`, batch + `inputs[1]: element 0 is a string, want a number`},
		{"batch malformed", `{"inputs": [` + row(64), batch + "malformed JSON at byte"},
		{"huge value", `{"inputs": [[1e300` + row(64)[2:] + `]}`, "request: inputs[0]: value 0 is 1e+300, outside the float32 range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Predict(context.Background(), []byte(tc.request))
			assert.Contains(t, guestError(t, err, host.ExportPredict, 3), tc.wantErr)
		})
	}
	out, err := m.Predict(context.Background(), []byte(" "+row(64)+"\n"))
	require.NoError(t, err, "the model is still usable after errors")
	assert.Contains(t, string(out), `"probabilities":[`)
}

// mlpcFile assembles a weights file from its parts.
func mlpcFile(magic string, header string, payload []byte) []byte {
	b := []byte(magic)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
	b = append(b, header...)
	return append(b, payload...)
}

// mlpcFloats encodes n float32 values v, v, ...
func mlpcFloats(n int, v float32) []byte {
	var b []byte
	for range n {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func TestMlpcConfigErrors(t *testing.T) {
	t.Parallel()
	const hdr = `{"sizes":[2,3],"activation":"relu","output":"softmax"}`
	ok9 := mlpcFloats(9, 0.5)
	withNaN := mlpcFloats(9, 0.5)
	binary.LittleEndian.PutUint32(withNaN[4*4:], math.Float32bits(float32(math.NaN())))
	withInf := mlpcFloats(9, 0.5)
	binary.LittleEndian.PutUint32(withInf[4*7:], math.Float32bits(float32(math.Inf(-1))))
	files := host.ArtifactMap{
		"digits":          digits.Weights,
		"junk":            []byte("not weights"),
		"magic":           mlpcFile("WRMLP\x00v2", hdr, ok9),
		"header-length":   append(mlpcFile(mlpnet.Magic, "", nil)[:8], 0xff, 0xff, 0xff, 0x7f),
		"header-json":     mlpcFile(mlpnet.Magic, `{"sizes":[2,3],}`, ok9),
		"header-array":    mlpcFile(mlpnet.Magic, `[2,3]`, ok9),
		"header-unknown":  mlpcFile(mlpnet.Magic, `{"sizes":[2,3],"activation":"relu","output":"softmax","dropout":0.5}`, ok9),
		"no-sizes":        mlpcFile(mlpnet.Magic, `{"activation":"relu","output":"softmax"}`, ok9),
		"one-size":        mlpcFile(mlpnet.Magic, `{"sizes":[2],"activation":"relu","output":"softmax"}`, nil),
		"zero-size":       mlpcFile(mlpnet.Magic, `{"sizes":[2,0,3],"activation":"relu","output":"softmax"}`, ok9),
		"fraction-size":   mlpcFile(mlpnet.Magic, `{"sizes":[2,3.5],"activation":"relu","output":"softmax"}`, ok9),
		"too-many-layers": mlpcFile(mlpnet.Magic, `{"sizes":[`+strings.Repeat("1,", 65)+`1],"activation":"relu","output":"softmax"}`, nil),
		"too-many-params": mlpcFile(mlpnet.Magic, `{"sizes":[4096,4097],"activation":"relu","output":"softmax"}`, nil),
		"short-payload":   mlpcFile(mlpnet.Magic, hdr, ok9[:32]),
		"long-payload":    mlpcFile(mlpnet.Magic, hdr, append(ok9, 0)),
		"activation":      mlpcFile(mlpnet.Magic, `{"sizes":[2,3],"activation":"gelu","output":"softmax"}`, ok9),
		"no-output":       mlpcFile(mlpnet.Magic, `{"sizes":[2,3],"activation":"relu"}`, ok9),
		"scale":           mlpcFile(mlpnet.Magic, `{"sizes":[2,3],"activation":"relu","output":"softmax","input_scale":0}`, ok9),
		"huge-scale":      mlpcFile(mlpnet.Magic, `{"sizes":[2,3],"activation":"relu","output":"softmax","input_scale":1e39}`, ok9),
		"labels":          mlpcFile(mlpnet.Magic, `{"sizes":[2,3],"activation":"relu","output":"softmax","labels":["a","b"]}`, ok9),
		"nan":             mlpcFile(mlpnet.Magic, hdr, withNaN),
		"inf":             mlpcFile(mlpnet.Magic, hdr, withInf),
	}
	// Where the C factory says exactly what mlpnet.Decode says, check that
	// too.
	tests := []struct {
		name, config, wantErr string
		sameAsGo              bool
	}{
		{"empty", `{}`, `config: field "weights" (an artifact name, e.g. "digits") is required`, false},
		{"not an object", `[64, 10]`, "config: want a JSON object, got an array", false},
		{"null", `null`, "config: want a JSON object, got null", false},
		{"malformed", `{"weights": }`, "config: want a JSON object: malformed JSON at byte 12", false},
		{"unknown field", `{"weights": "digits", "layers": [2, 2]}`, `config: unknown field "layers" (known: weights`, false},
		{"weights not a string", `{"weights": 3}`, `config field "weights": want the name of an artifact, got 3`, false},
		{"empty weights", `{"weights": ""}`, `config field "weights": want the name of an artifact, got ""`, false},
		{"NUL in the name", `{"weights": "dig\u0000its"}`, `config field "weights": want the name of an artifact`, false},
		{"missing artifact", `{"weights": "nope"}`, `config field "weights": artifact "nope" not found: the host must grant it (the CLI: --grant artifact=nope=FILE)`, false},
		{"junk", `{"weights": "junk"}`, `config field "weights": artifact "junk": mlpnet: bad weights file: 11 bytes, shorter than the 12-byte magic and header length`, true},
		{"magic", `{"weights": "magic"}`, `artifact "magic": mlpnet: bad weights file: magic "WRMLP\x00v2", want "WRMLP\x00v1"`, true},
		{"header length", `{"weights": "header-length"}`, `mlpnet: bad weights file: header length 2147483647, but 0 bytes follow (the limit is 1048576)`, true},
		{"header JSON", `{"weights": "header-json"}`, `mlpnet: bad weights file: header: malformed JSON at byte 15`, false},
		{"header array", `{"weights": "header-array"}`, `mlpnet: bad weights file: header: is an array, want an object`, false},
		{"header unknown field", `{"weights": "header-unknown"}`, `mlpnet: bad weights file: header: unknown field "dropout"`, false},
		{"no sizes", `{"weights": "no-sizes"}`, `mlpnet: bad weights file: header: field "sizes" is missing`, true},
		{"one size", `{"weights": "one-size"}`, `mlpnet: bad weights file: header field "sizes": mlpnet: invalid network: sizes [2]: want at least 2 sizes`, true},
		{"zero size", `{"weights": "zero-size"}`, `header field "sizes": mlpnet: invalid network: sizes[1] is 0, want 1 to 16777216`, true},
		{"fraction size", `{"weights": "fraction-size"}`, `header field "sizes": element 1 is 3.5, want an integer`, false},
		{"too many layers", `{"weights": "too-many-layers"}`, `mlpnet: invalid network: 66 sizes make 65 layers, the limit is 64`, true},
		{"too many params", `{"weights": "too-many-params"}`, `mlpnet: invalid network: sizes [4096 4097] have more than 16777216 parameters`, true},
		{"short payload", `{"weights": "short-payload"}`, `mlpnet: bad weights file: 32 bytes of weights, want 36 (9 float32 parameters for sizes [2 3])`, true},
		{"long payload", `{"weights": "long-payload"}`, `37 bytes of weights, want 36`, true},
		{"activation", `{"weights": "activation"}`, `mlpnet: bad weights file: header: mlpnet: invalid network: activation "gelu": want one of ["relu" "tanh" "sigmoid"]`, true},
		{"no output", `{"weights": "no-output"}`, `mlpnet: invalid network: output "": want one of ["softmax" "sigmoid" "linear"]`, true},
		{"input scale", `{"weights": "scale"}`, `mlpnet: bad weights file: header field "input_scale" is 0, want a finite non-zero float32`, true},
		{"huge input scale", `{"weights": "huge-scale"}`, `header field "input_scale" is 1e+39, want a finite non-zero float32`, true},
		{"labels", `{"weights": "labels"}`, `mlpnet: bad weights file: header field "labels" has 2 labels for 3 outputs`, true},
		{"NaN weight", `{"weights": "nan"}`, `mlpnet: bad weights file: layer 0 W[4] is NaN (at byte 82)`, true},
		{"infinite bias", `{"weights": "inf"}`, `mlpnet: bad weights file: layer 0 B[1] is -Inf (at byte 94)`, true},
	}
	// The factory's own config checks, as a host made WithoutConfigValidation
	// leaves them (schema_test.go checks the host's).
	f, _ := mlpcFactory(t, mlpcSIMDWasm(t), files, host.WithoutConfigValidation())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.Build(context.Background(), []byte(tc.config))
			assert.Contains(t, guestError(t, err, host.ExportBuild, 2), tc.wantErr)
			var cfg struct{ Weights string }
			if !strings.Contains(tc.wantErr, "mlpnet: ") || json.Unmarshal([]byte(tc.config), &cfg) != nil {
				return // the config is wrong, not the file
			}
			_, goErr := mlpnet.Decode(files[cfg.Weights])
			require.Error(t, goErr, "mlpnet refuses it too")
			if tc.sameAsGo {
				assert.Contains(t, err.Error(), goErr.Error(), "the same words as mlpnet.Decode")
			}
		})
	}
	m := mlpcBuild(t, f, `{"weights": "digits"}`)
	out, err := m.Predict(context.Background(), mlpcJSON(t, make([]float32, 64)))
	require.NoError(t, err, "a good build after failed ones")
	assert.Contains(t, string(out), `"probabilities":[`)
}

// TestMlpcMutatedWeights flips bytes of valid weights files: the C decoder
// must accept exactly what mlpnet.Decode accepts, answer as native mlpnet
// does when it does, and fail cleanly (never trap) when it does not.
func TestMlpcMutatedWeights(t *testing.T) {
	t.Parallel()
	_, small := mlpcNetwork(t, []int{3, 4, 2}, "tanh", "sigmoid", 1, 0.25, []string{"no", "yes"})
	bases := [][]byte{digits.Weights, small}
	r := rand.New(rand.NewPCG(3, 4))
	artifacts := host.ArtifactMap{}
	var names []string
	for i := range 300 {
		b := bytes.Clone(bases[i%2])
		hlen := int(binary.LittleEndian.Uint32(b[8:12]))
		for range 1 + r.IntN(2) {
			at := r.IntN(12 + hlen + 8) // mostly the preamble and header, some weights
			if at >= len(b) {
				at = len(b) - 1
			}
			switch r.IntN(3) {
			case 0:
				b[at] ^= byte(1 << r.IntN(8))
			case 1:
				b[at] = "0123456789[]{},:\" -.e"[r.IntN(21)]
			default:
				b = append(b[:at], b[at+1:]...) // a byte less: lengths no longer match
			}
		}
		name := fmt.Sprintf("m%d", i)
		artifacts[name] = b
		names = append(names, name)
	}
	f, _ := mlpcFactory(t, mlpcSIMDWasm(t), artifacts)
	accepted := 0
	for _, name := range names {
		native, goErr := mlpnet.Decode(artifacts[name])
		m, err := f.BuildModel(context.Background(), []byte(`{"weights":"`+name+`"}`))
		if goErr != nil {
			if assert.Error(t, err, "%s: mlpnet refuses it (%v); so must mlpc", name, goErr) {
				assert.Contains(t, guestError(t, err, host.ExportBuild, 2), "mlpnet:")
			}
			continue
		}
		if !assert.NoError(t, err, "%s: mlpnet accepts it", name) {
			continue
		}
		accepted++
		x := make([]float32, native.InputSize())
		for i := range x {
			x[i] = float32(i % 17)
		}
		out, err := m.Predict(context.Background(), mlpcJSON(t, x))
		if assert.NoError(t, err, name) {
			assert.Equal(t, string(mlpcJSON(t, mlpcWant(native, x))), string(out), name)
		}
		require.NoError(t, m.Close(context.Background()))
	}
	t.Logf("%d of %d mutated files are still valid", accepted, len(names))
}
