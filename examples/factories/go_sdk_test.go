package factories_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

// These tests build Go factories with Go's own wasip1 port and run them
// under the real host: the guest SDK's minimal example
// (guest-sdk/go/example/minimal), the linear factory (linear/) and the
// SDK's capability test factory (testdata/gocaps). Each module is built
// once per test binary, in parallel with the others, and compiled outside
// the race detector (see goSDKCompiled).

// goSDKModule is a built factory module.
type goSDKModule struct {
	path string
	wasm []byte
}

// goSDKWasm builds the main package pkg of the module in moduleDir (relative
// to the repository root) once per test binary.
func goSDKWasm(t *testing.T, name, moduleDir, pkg string) goSDKModule {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a Go guest with GOOS=wasip1")
	}
	root, err := wasmbuild.RepoRoot()
	require.NoError(t, err)
	path, err := wasmbuild.Shared.Get(name, func(out string) error {
		return wasmbuild.Go(context.Background(), filepath.Join(root, moduleDir), pkg, out)
	})
	require.NoError(t, err)
	wasm, err := os.ReadFile(path)
	require.NoError(t, err)
	return goSDKModule{path: path, wasm: wasm}
}

func goSDKMinimalWasm(t *testing.T) goSDKModule {
	return goSDKWasm(t, "gosdk-minimal", "guest-sdk/go", "./example/minimal")
}

func goSDKCapsWasm(t *testing.T) goSDKModule {
	return goSDKWasm(t, "gosdk-gocaps", ".", "./examples/factories/testdata/gocaps")
}

func linearWasm(t *testing.T) goSDKModule {
	return goSDKWasm(t, "gosdk-linear", ".", "./examples/factories/linear")
}

// goSDKCompiled returns a host option whose compilation cache, a directory
// of the test, already holds the modules' compiled code: testdata/precompile
// compiles them in its own process, without the race detector, in about a
// second each, where wazero takes 20 s or more under -race on a small
// machine (then loading from the cache takes a quarter of a second). Should
// that fail, the cache starts empty and the host compiles the modules
// itself, only slower.
func goSDKCompiled(t *testing.T, modules ...goSDKModule) host.Option {
	t.Helper()
	dir := t.TempDir()
	version := goSDKWazeroVersion()
	// The Cache names its outputs *.wasm; this one is a native program.
	tool, err := wasmbuild.Shared.Get("gosdk-precompile-"+version, func(out string) error {
		root, err := wasmbuild.RepoRoot()
		if err != nil {
			return err
		}
		// wazero keys its cache by its own version, which it reads from the
		// build info: a test binary has none and says "dev". Make the tool
		// say what this binary says.
		cmd := exec.Command(wasmbuild.GoTool(), "build",
			"-ldflags=-X=github.com/tetratelabs/wazero/internal/version.version="+version,
			"-o", out, "./examples/factories/testdata/precompile")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build precompile: %w\n%s", err, b)
		}
		return nil
	})
	if err == nil {
		args := []string{"-dir", dir}
		for _, m := range modules {
			args = append(args, m.path)
		}
		var b []byte
		if b, err = exec.Command(tool, args...).CombinedOutput(); err != nil {
			err = fmt.Errorf("%w\n%s", err, b)
		}
	}
	if err != nil {
		t.Logf("precompiling outside the race detector failed; the host compiles instead: %v", err)
	}
	return host.WithCompilationCacheDir(dir)
}

// goSDKWazeroVersion is the version wazero finds for itself in this
// binary, as its internal/version.GetWazeroVersion finds it.
func goSDKWazeroVersion() string {
	v := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if strings.Contains(dep.Path, "github.com/tetratelabs/wazero") {
				v = dep.Version
			}
		}
		if v == "" || v == "(devel)" {
			v = info.Main.Version
		}
	}
	if v == "" || v == "(devel)" {
		return "dev"
	}
	return v
}

// goSDKHost returns a host logging at debug level into the returned logs,
// closed when the test ends.
func goSDKHost(t *testing.T, opts ...host.Option) (*host.Host, *testLogs) {
	t.Helper()
	logs := &testLogs{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// A Go guest's compile under -race on a loaded machine can pass the
	// default 30 s; the tests are about the SDK, not compile time.
	h, err := host.New(context.Background(), append([]host.Option{host.WithLogger(logger), host.WithCompileTimeout(5 * time.Minute)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, h.Close(context.Background())) })
	return h, logs
}

// goSDKBuild builds a model, closed when the test ends.
func goSDKBuild(t *testing.T, f *host.Factory, config string) *host.Model {
	t.Helper()
	m, err := f.BuildModel(context.Background(), []byte(config))
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

// goSDKWithoutLog drops "log", which every host grants, from capabilities.
func goSDKWithoutLog(capabilities []string) []string {
	out := []string{}
	for _, c := range capabilities {
		if c != host.CapLog {
			out = append(out, c)
		}
	}
	return out
}

// goSDKCallError asserts that err is a guest error of export with code and
// a message containing msg.
func goSDKCallError(t *testing.T, err error, export string, code int32, msg string) {
	t.Helper()
	require.ErrorIs(t, err, host.ErrGuest)
	var ce *host.CallError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, export, ce.Export)
	assert.Equal(t, code, ce.Code)
	assert.Contains(t, ce.Message, msg)
}

func TestGoSDKMinimalExample(t *testing.T) {
	t.Parallel()
	mod := goSDKMinimalWasm(t)
	// The factory's own config checks, as a host made WithoutConfigValidation
	// leaves them (schema_test.go checks the host's).
	h, _ := goSDKHost(t, goSDKCompiled(t, mod), host.WithoutConfigValidation()) // no grants: the example must not need any
	ctx := context.Background()
	f, err := h.Load(ctx, mod.wasm)
	require.NoError(t, err)

	t.Run("metadata", func(t *testing.T) {
		assert.Equal(t, "greeter@1.0.0", f.Name())
		info := f.Info()
		assert.Equal(t, "Greets each request with the greeting in its config.", info.Description)
		assert.JSONEq(t, `{"type": "object", "properties": {"greeting": {"type": "string"}}, "additionalProperties": false}`, string(info.ConfigSchema))
		assert.Empty(t, goSDKWithoutLog(info.Capabilities))
		assert.Subset(t, f.Exports(), []string{"_initialize", "wasmreg_abi_version", "wasmreg_info", "wasmreg_build", "wasmreg_predict"})
		sig, ok := f.Signature()
		require.True(t, ok, "the example declares its tensor signature")
		assert.Equal(t, host.Signature{
			Inputs:  []host.TensorSpec{{Name: "input", Datatype: "BYTES", Shape: []int64{-1}}},
			Outputs: []host.TensorSpec{{Name: "output", Datatype: "BYTES", Shape: []int64{-1}}},
		}, sig)
	})

	t.Run("imports only what it uses", func(t *testing.T) {
		imports := importNames(f)
		assert.Subset(t, imports, []string{"wasmreg.input", "wasmreg.output", "wasmreg.error", "wasmreg.log"})
		for _, name := range []string{"clock_now", "clock_monotonic", "random_fill", "random_seed", "artifact_size", "artifact_read"} {
			assert.NotContains(t, imports, "wasmreg."+name)
		}
	})

	t.Run("greets", func(t *testing.T) {
		tests := []struct {
			name, config, request, want string
		}{
			{"configured", `{"greeting": "hello"}`, "world", "hello, world"},
			{"another greeting", `{"greeting": "bonjour"}`, "Ada", "bonjour, Ada"},
			{"default config", ``, "you", "hello, you"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				m := goSDKBuild(t, f, tc.config)
				out, err := m.Predict(ctx, []byte(tc.request))
				require.NoError(t, err)
				assert.Equal(t, tc.want, string(out))
			})
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := f.Build(ctx, []byte(`{"greting": "hi"}`))
		goSDKCallError(t, err, host.ExportBuild, 1, `config: json: unknown field "greting"`)

		m := goSDKBuild(t, f, `{"greeting": "hi"}`)
		_, err = m.Predict(ctx, nil)
		goSDKCallError(t, err, host.ExportPredict, 1, "request: empty name")
		out, err := m.Predict(ctx, []byte("again"))
		require.NoError(t, err, "a failed prediction leaves the model usable")
		assert.Equal(t, "hi, again", string(out))
	})
}

func TestGoSDKCapabilities(t *testing.T) {
	t.Parallel()
	mod := goSDKCapsWasm(t)
	artifacts := host.ArtifactMap{
		"greeting": []byte("hello, artifact"),
		"empty":    {},
		"big":      bytes.Repeat([]byte("0123456789abcdef"), 1<<19), // 8 MiB: two chunks of ReadAll
	}
	cache := goSDKCompiled(t, mod)
	h, logs := goSDKHost(t, cache, host.WithGrants(host.CapClock, host.CapRandom, host.CapArtifact), host.WithArtifacts(artifacts))
	ctx := context.Background()
	f, err := h.Load(ctx, mod.wasm)
	require.NoError(t, err)

	t.Run("imports need grants", func(t *testing.T) {
		// Using a client imports its functions, which a host without the
		// grant refuses.
		h, _ := goSDKHost(t, cache, host.WithGrants(host.CapRandom))
		_, err := h.Load(ctx, mod.wasm)
		require.ErrorIs(t, err, host.ErrNotGranted)
		for _, imp := range []string{"wasmreg.clock_now", "wasmreg.clock_monotonic", "wasmreg.artifact_size", "wasmreg.artifact_read"} {
			assert.ErrorContains(t, err, "import "+imp+" needs capability")
		}
		assert.NotContains(t, err.Error(), "random_fill", "random is granted")
	})
	assert.Equal(t, []string{"artifact", "clock", "random"}, goSDKWithoutLog(f.Info().Capabilities))
	m := goSDKBuild(t, f, `{}`)

	predict := func(t *testing.T, m *host.Model, req string) map[string]any {
		t.Helper()
		out, err := m.Predict(ctx, []byte(req))
		require.NoError(t, err)
		var resp map[string]any
		require.NoError(t, json.Unmarshal(out, &resp), "response %s", out)
		return resp
	}

	t.Run("clock", func(t *testing.T) {
		before := time.Now()
		resp := predict(t, m, `{"op": "clock"}`)
		now := time.Unix(0, int64(resp["now_ns"].(float64)))
		assert.WithinRange(t, now, before.Add(-time.Second), time.Now().Add(time.Second))
		assert.Positive(t, resp["monotonic_ns"])
		assert.GreaterOrEqual(t, resp["elapsed_ns"], 0.0)
	})

	t.Run("random", func(t *testing.T) {
		// Seeded: the same bytes in two models, and the stream that
		// docs/ABI.md §4.2 specifies: ChaCha8 keyed by the seed.
		m2 := goSDKBuild(t, f, `{}`)
		a := predict(t, m, `{"op": "random", "seed": 42, "n": 32}`)
		b := predict(t, m2, `{"op": "random", "seed": 42, "n": 32}`)
		assert.Equal(t, a, b)

		var key [32]byte
		binary.LittleEndian.PutUint64(key[:8], 42)
		stream := rand.NewChaCha8(key)
		want := make([]byte, 32)
		_, _ = stream.Read(want)
		r := rand.New(stream)
		assert.Equal(t, hex.EncodeToString(want), a["bytes"])
		assert.Equal(t, strconv.FormatUint(r.Uint64(), 10), a["uint64"])
		assert.Equal(t, r.Float64(), a["float64"])
		assert.Equal(t, r.NormFloat64(), a["norm"])
		perm := make([]any, 0, 5)
		for _, p := range r.Perm(5) {
			perm = append(perm, float64(p))
		}
		assert.Equal(t, perm, a["perm"])

		// Unseeded: every call has its own stream from the host.
		c := predict(t, m, `{"op": "random", "n": 32}`)
		d := predict(t, m, `{"op": "random", "n": 32}`)
		assert.NotEqual(t, c["bytes"], d["bytes"])
		assert.NotEqual(t, a["bytes"], c["bytes"])

		// A seed in the config makes the build's draws reproducible.
		x := goSDKBuild(t, f, `{"seed": 7}`)
		y := goSDKBuild(t, f, `{"seed": 7}`)
		bx, err := x.Predict(ctx, []byte(`{"op": "built"}`))
		require.NoError(t, err)
		by, err := y.Predict(ctx, []byte(`{"op": "built"}`))
		require.NoError(t, err)
		assert.Equal(t, string(bx), string(by))
	})

	t.Run("artifact", func(t *testing.T) {
		tests := []struct {
			name, request string
			want          map[string]any
		}{
			{"found", `{"op": "artifact", "name": "greeting", "offset": 7}`, map[string]any{
				"size": 15.0, "found": true, "content": "hello, artifact", "not_found": false, "read_at": "arti", "read_at_eof": false,
			}},
			{"read at the end", `{"op": "artifact", "name": "greeting", "offset": 13}`, map[string]any{
				"size": 15.0, "found": true, "content": "hello, artifact", "not_found": false, "read_at": "ct", "read_at_eof": true,
			}},
			{"empty", `{"op": "artifact", "name": "empty"}`, map[string]any{
				"size": 0.0, "found": true, "content": "", "not_found": false, "read_at": "", "read_at_eof": true,
			}},
			{"missing", `{"op": "artifact", "name": "nope"}`, map[string]any{
				"size": 0.0, "found": false, "content": "", "not_found": true, "read_at": "", "read_at_eof": false,
				"error": `artifact "nope": artifact: not found`,
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				assert.Equal(t, tc.want, predict(t, m, tc.request))
			})
		}
		t.Run("several chunks", func(t *testing.T) {
			resp := predict(t, m, `{"op": "artifact", "name": "big", "offset": 8388604}`)
			assert.Equal(t, float64(len(artifacts["big"])), resp["size"])
			assert.Equal(t, string(artifacts["big"]), resp["content"])
			assert.Equal(t, "cdef", resp["read_at"])
		})
	})

	t.Run("log", func(t *testing.T) {
		out, err := m.Predict(ctx, []byte(`{"op": "log", "msg": "hello from gocaps"}`))
		require.NoError(t, err)
		assert.Equal(t, "logged", string(out))
		text := logs.String()
		for _, want := range []string{
			`level=DEBUG msg="hello from gocaps level=debug"`,
			`level=INFO msg="hello from gocaps level=info took=1.5s quoted=\"two words\""`,
			`level=WARN msg="hello from gocaps level=warn"`,
			`level=ERROR msg="hello from gocaps level=error err=\"bad thing\""`,
			`level=INFO+2 msg="hello from gocaps at INFO+2"`,
		} {
			assert.Contains(t, text, want)
		}
	})

	t.Run("panic in predict", func(t *testing.T) {
		_, err := m.Predict(ctx, []byte(`{"op": "panic", "index": 3}`))
		goSDKCallError(t, err, host.ExportPredict, 1, "panic: runtime error: index out of range [3] with length 2")
		assert.ErrorContains(t, err, "[in main.(*model).Predict (main.go:")
		assert.Contains(t, logs.String(), "wasmreg: recovered a panic in Predict: runtime error: index out of range [3] with length 2; stack: main.(*model).Predict (main.go:")

		out, err := m.Predict(ctx, []byte(`{"op": "panic", "index": 1}`))
		require.NoError(t, err, "the model stays usable after a recovered panic")
		assert.Equal(t, "2", string(out))
	})

	t.Run("panic in build", func(t *testing.T) {
		_, err := f.Build(ctx, []byte(`{"panic": true}`))
		goSDKCallError(t, err, host.ExportBuild, 1, "panic: assignment to entry in nil map [in main.build (main.go:")
	})

	t.Run("error codes", func(t *testing.T) {
		_, err := m.Predict(ctx, []byte(`{"op": "fail", "code": 7, "message": "seven"}`))
		goSDKCallError(t, err, host.ExportPredict, 7, "seven")
		assert.EqualError(t, err, `host: factory "gocaps@0.1.0" export wasmreg_predict returned code 7: seven`)

		_, err = m.Predict(ctx, []byte(`{"op": "fail", "code": 3}`))
		assert.EqualError(t, err, `host: factory "gocaps@0.1.0" export wasmreg_predict returned code 3`, "no message: only the code")

		_, err = m.Predict(ctx, []byte(`{"op": "nope"}`))
		goSDKCallError(t, err, host.ExportPredict, 1, `request: unknown op "nope"`)

		_, err = f.Build(ctx, []byte(`{"fail_code": 9}`))
		goSDKCallError(t, err, host.ExportBuild, 9, "config asked to fail with code 9")
	})
}

// linearIris reads linear/testdata/iris.csv: 4 features then the class.
func linearIris(t *testing.T) (rows [][]float64, classes []int, labels []string) {
	t.Helper()
	file, err := os.Open(filepath.Join("linear", "testdata", "iris.csv"))
	require.NoError(t, err)
	defer file.Close()
	sc := bufio.NewScanner(file)
	require.True(t, sc.Scan())
	labels = strings.Split(sc.Text(), ",")[2:]
	for sc.Scan() {
		cells := strings.Split(sc.Text(), ",")
		row := make([]float64, 4)
		for j := range row {
			row[j], err = strconv.ParseFloat(cells[j], 64)
			require.NoError(t, err)
		}
		class, err := strconv.Atoi(cells[4])
		require.NoError(t, err)
		rows, classes = append(rows, row), append(classes, class)
	}
	require.NoError(t, sc.Err())
	require.Len(t, rows, 150)
	return rows, classes, labels
}

type linearPrediction struct {
	Outputs []float64 `json:"outputs"`
	Class   *int      `json:"class"`
	Label   *string   `json:"label"`
}

func TestLinear(t *testing.T) {
	t.Parallel()
	mod := linearWasm(t)
	// The factory's own config checks, as a host made WithoutConfigValidation
	// leaves them (schema_test.go checks the host's).
	h, logs := goSDKHost(t, goSDKCompiled(t, mod), host.WithoutConfigValidation())
	ctx := context.Background()
	f, err := h.Load(ctx, mod.wasm)
	require.NoError(t, err)

	t.Run("metadata", func(t *testing.T) {
		assert.Equal(t, "linear@1.0.0", f.Name())
		info := f.Info()
		assert.Equal(t, "Linear or logistic regression from weights in the config.", info.Description)
		var schema struct {
			Required   []string                   `json:"required"`
			Properties map[string]json.RawMessage `json:"properties"`
		}
		require.NoError(t, json.Unmarshal(info.ConfigSchema, &schema))
		assert.Equal(t, []string{"weights"}, schema.Required)
		assert.Len(t, schema.Properties, 4)
		assert.Empty(t, goSDKWithoutLog(info.Capabilities))
	})

	t.Run("iris", func(t *testing.T) {
		config, err := os.ReadFile(filepath.Join("linear", "testdata", "iris_softmax.json"))
		require.NoError(t, err)
		m := goSDKBuild(t, f, string(config))
		assert.Contains(t, logs.String(), `msg="linear model built outputs=3 features=4 link=softmax labels=3"`)

		rows, classes, labels := linearIris(t)
		batch, err := json.Marshal(map[string]any{"inputs": rows})
		require.NoError(t, err)
		out, err := m.Predict(ctx, batch)
		require.NoError(t, err)
		var preds []linearPrediction
		require.NoError(t, json.Unmarshal(out, &preds))
		require.Len(t, preds, len(rows))
		correct := 0
		for i, p := range preds {
			require.NotNil(t, p.Class)
			require.NotNil(t, p.Label)
			assert.Equal(t, labels[*p.Class], *p.Label)
			sum := 0.0
			for _, o := range p.Outputs {
				sum += o
			}
			assert.InDelta(t, 1, sum, 1e-9, "softmax outputs sum to 1")
			if *p.Class == classes[i] {
				correct++
			}
		}
		// The weights were fitted on these same 150 rows (147 right when
		// fitted): this checks the factory, not the model's generalisation.
		assert.GreaterOrEqual(t, correct, 145, "training accuracy")

		for _, i := range []int{0, 50, 100, 149} {
			t.Run(fmt.Sprintf("row %d", i), func(t *testing.T) {
				req, err := json.Marshal(rows[i])
				require.NoError(t, err)
				out, err := m.Predict(ctx, req)
				require.NoError(t, err)
				var p linearPrediction
				require.NoError(t, json.Unmarshal(out, &p))
				require.NotNil(t, p.Label)
				assert.Equal(t, labels[classes[i]], *p.Label)
				assert.Equal(t, preds[i], p, "single and batch predictions agree")
			})
		}
	})

	t.Run("models", func(t *testing.T) {
		tests := []struct {
			name, config, request, want string
		}{
			{"identity", `{"weights": [2, -1], "bias": 0.5}`, `[3, 1]`, `{"outputs":[5.5]}`},
			{"logistic", `{"weights": [1], "link": "logistic", "labels": ["no", "yes"]}`, `[0]`, `{"outputs":[0.5],"class":1,"label":"yes"}`},
			{"batch", `{"weights": [[1, 1], [1, -1]], "bias": [0, 1]}`, `{"inputs": [[1, 2], [3, 4]]}`, `[{"outputs":[3,0]},{"outputs":[7,0]}]`},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				m := goSDKBuild(t, f, tc.config)
				out, err := m.Predict(ctx, []byte(tc.request))
				require.NoError(t, err)
				assert.JSONEq(t, tc.want, string(out))
			})
		}
	})

	t.Run("config errors", func(t *testing.T) {
		tests := []struct {
			name, config, want string
		}{
			{"no weights", `{}`, `config field "weights" is required`},
			{"ragged", `{"weights": [[1,2,3,4],[1,2,3,4],[1,2,3]]}`, `config field "weights": row 2 has 3 values, want 4 like row 0`},
			{"not a number", `{"weights": [[1,2],[3,"x"]]}`, "config field \"weights\": row 1: value 1: `\"x\"` is not a number"},
			{"bias", `{"weights": [[1],[2],[3]], "bias": [1, 2]}`, `config field "bias": has 2 values, want 3 (one per row of "weights")`},
			{"link", `{"weights": [1], "link": "relu"}`, `config field "link": "relu" is not one of "identity", "logistic", "softmax"`},
			{"labels", `{"weights": [[1],[2],[3]], "link": "softmax", "labels": ["a"]}`, `config field "labels": has 1 label, want 3 (one per class)`},
			{"typo", `{"weights": [1], "lables": []}`, `config field "lables" is unknown (known: bias, labels, link, weights)`},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.Build(ctx, []byte(tc.config))
				goSDKCallError(t, err, host.ExportBuild, 1, tc.want)
			})
		}
	})

	t.Run("request errors keep the model", func(t *testing.T) {
		m := goSDKBuild(t, f, `{"weights": [[1, 2], [3, 4]], "link": "softmax"}`)
		for _, req := range []string{`[1]`, `{"inputs": [[1, 2], [1]]}`, `nope`} {
			_, err := m.Predict(ctx, []byte(req))
			require.Error(t, err)
			assert.True(t, errors.Is(err, host.ErrGuest), "%v", err)
		}
		out, err := m.Predict(ctx, []byte(`[0, 0]`))
		require.NoError(t, err)
		assert.JSONEq(t, `{"outputs":[0.5,0.5],"class":0}`, string(out))
	})
}

// importNames returns f's imports as "module.name".
func importNames(f *host.Factory) []string {
	var out []string
	for _, imp := range f.Imports() {
		out = append(out, imp.String())
	}
	return out
}
