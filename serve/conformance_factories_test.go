package serve_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wasmreg/wasmreg/examples/digits"
	"github.com/wasmreg/wasmreg/examples/mlpnet"
	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/wasmbuild"
	"github.com/wasmreg/wasmreg/serve"
	"github.com/wasmreg/wasmreg/serve/oippb"
)

// The example factories, as make examples builds them (the Makefile's test
// target builds them before go test).
var exampleFactoriesDir = filepath.Join("..", "build", "factories")

func exampleFactory(t *testing.T, h *host.Host, file string) *host.Factory {
	t.Helper()
	wasm, err := os.ReadFile(filepath.Join(exampleFactoriesDir, file))
	if err != nil {
		t.Fatalf("example factory %s: %v (run make examples)", file, err)
	}
	f, err := h.Load(context.Background(), wasm)
	require.NoError(t, err, "load %s", file)
	t.Cleanup(func() { _ = f.Close(context.Background()) })
	return f
}

// exampleServer serves the models of specs (factory file → spec without
// its Factory) over REST and gRPC on 127.0.0.1, from one host that grants
// what the examples need.
type exampleServer struct {
	factories map[string]*host.Factory // by file
	rest      *oipClient
	grpc      oippb.GRPCInferenceServiceClient
}

type exampleModel struct {
	name, file, config string
}

func newExampleServer(t *testing.T, models ...exampleModel) *exampleServer {
	t.Helper()
	ctx := context.Background()
	var files []string
	for _, m := range models {
		files = append(files, m.file)
	}
	h, err := host.New(ctx, host.WithGrants(host.CapRandom, host.CapArtifact), host.WithLogger(quiet()),
		host.WithArtifacts(host.ArtifactMap{"digits": digits.Weights}), host.WithCallTimeout(10*time.Second),
		host.WithCompileTimeout(3*time.Minute), precompiled(t, files...))
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(ctx) })
	srv, err := serve.New(serve.WithLogger(quiet()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	factories := map[string]*host.Factory{}
	for _, m := range models {
		f := factories[m.file]
		if f == nil {
			f = exampleFactory(t, h, m.file)
			factories[m.file] = f
		}
		require.NoError(t, srv.Load(ctx, serve.ModelSpec{Name: m.name, Factory: f, Config: []byte(m.config), Instances: 2}), "model %s", m.name)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := grpc.NewServer()
	srv.RegisterGRPC(g)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &exampleServer{factories: factories, rest: newOIPClient(t, ts.URL, ts.Client().Transport), grpc: oippb.NewGRPCInferenceServiceClient(conn)}
}

// precompiled returns a host option whose compilation cache already holds
// the example factories' compiled code, compiled by
// examples/factories/testdata/precompile in a process of its own without
// the race detector: wazero compiles a Go factory in a second or so, but in
// 20 s or more under -race. Should that fail, the host compiles them itself,
// only slower.
func precompiled(t *testing.T, files ...string) host.Option {
	t.Helper()
	dir := t.TempDir()
	// wazero keys its cache by its own version, from the build info, which
	// a test binary lacks ("dev"): the tool must say the same.
	version := "dev"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/tetratelabs/wazero" && dep.Version != "" && dep.Version != "(devel)" {
				version = dep.Version
			}
		}
	}
	tool := filepath.Join(dir, "precompile")
	build := exec.Command(wasmbuild.GoTool(), "build", "-ldflags=-X=github.com/tetratelabs/wazero/internal/version.version="+version,
		"-o", tool, "./examples/factories/testdata/precompile")
	build.Dir = ".."
	out, err := build.CombinedOutput()
	if err == nil {
		args := []string{"-dir", filepath.Join(dir, "cache")}
		for _, f := range files {
			args = append(args, filepath.Join(exampleFactoriesDir, f))
		}
		out, err = exec.Command(tool, args...).CombinedOutput()
	}
	if err != nil {
		t.Logf("precompiling outside the race detector failed, the host compiles instead: %v\n%s", err, out)
	}
	return host.WithCompilationCacheDir(filepath.Join(dir, "cache"))
}

// tensorIn is one input tensor, rendered as REST JSON and as gRPC typed
// contents, so that both transports get the same tensor.
type tensorIn struct {
	datatype string
	shape    []int64
	data     []any // float64, bool or string
}

func (in tensorIn) restBody(t testing.TB, id string) string {
	b, err := json.Marshal(map[string]any{"id": id, "inputs": []any{map[string]any{
		"name": "input", "shape": in.shape, "datatype": in.datatype, "data": in.data}}})
	require.NoError(t, err)
	return string(b)
}

func (in tensorIn) grpcRequest(model, id string) *oippb.ModelInferRequest {
	c := &oippb.InferTensorContents{}
	for _, v := range in.data {
		switch in.datatype {
		case "FP32":
			c.Fp32Contents = append(c.Fp32Contents, float32(v.(float64)))
		case "FP64":
			c.Fp64Contents = append(c.Fp64Contents, v.(float64))
		case "INT32":
			c.IntContents = append(c.IntContents, int32(v.(float64)))
		case "BOOL":
			c.BoolContents = append(c.BoolContents, v.(bool))
		case "BYTES":
			c.BytesContents = append(c.BytesContents, []byte(v.(string)))
		default:
			panic("tensorIn: no gRPC contents for " + in.datatype)
		}
	}
	return &oippb.ModelInferRequest{ModelName: model, Id: id, Inputs: []*oippb.ModelInferRequest_InferInputTensor{
		{Name: "input", Datatype: in.datatype, Shape: in.shape, Contents: c}}}
}

// rawRequest is grpcRequest with the tensor in raw_input_contents instead
// of typed contents: little-endian values, BYTES as a 4-byte length and
// the bytes.
func (in tensorIn) rawRequest(model, id string) *oippb.ModelInferRequest {
	r := in.grpcRequest(model, id)
	var raw []byte
	for _, v := range in.data {
		switch in.datatype {
		case "FP32":
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(v.(float64))))
		case "FP64":
			raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(v.(float64)))
		case "INT32":
			raw = binary.LittleEndian.AppendUint32(raw, uint32(int32(v.(float64))))
		case "BOOL":
			b := byte(0)
			if v.(bool) {
				b = 1
			}
			raw = append(raw, b)
		case "BYTES":
			raw = binary.LittleEndian.AppendUint32(raw, uint32(len(v.(string))))
			raw = append(raw, v.(string)...)
		}
	}
	r.Inputs[0].Contents = nil
	r.RawInputContents = [][]byte{raw}
	return r
}

// tensorOut is an output tensor as REST's JSON carries it, for comparing
// REST's and gRPC's answers.
type tensorOut struct {
	Datatype string
	Shape    []int64
	Data     []any
}

func restOutput(t testing.TB, body map[string]any) tensorOut {
	t.Helper()
	out := output(t, body)
	var o tensorOut
	o.Datatype, _ = out["datatype"].(string)
	for _, d := range out["shape"].([]any) {
		o.Shape = append(o.Shape, int64(d.(float64)))
	}
	o.Data, _ = out["data"].([]any)
	return o
}

func grpcOutput(t testing.TB, resp *oippb.ModelInferResponse) tensorOut {
	t.Helper()
	require.Len(t, resp.GetOutputs(), 1)
	out := resp.GetOutputs()[0]
	assert.Equal(t, "output", out.GetName())
	o := tensorOut{Datatype: out.GetDatatype(), Shape: out.GetShape(), Data: []any{}}
	for _, f := range out.GetContents().GetFp64Contents() {
		o.Data = append(o.Data, f)
	}
	for _, b := range out.GetContents().GetBytesContents() {
		o.Data = append(o.Data, string(b))
	}
	return o
}

// jsonRows decodes each element of a BYTES output as JSON into T.
func jsonRows[T any](t testing.TB, o tensorOut) []T {
	t.Helper()
	require.Equal(t, "BYTES", o.Datatype)
	rows := make([]T, len(o.Data))
	for i, d := range o.Data {
		s, ok := d.(string)
		require.True(t, ok, "element %d: %v", i, d)
		require.NoError(t, json.Unmarshal([]byte(s), &rows[i]), "element %d: %s", i, s)
	}
	return rows
}

// digitsRows returns the first n held-out digits and their labels.
func digitsRows(t testing.TB, n int) (tensorIn, [][]float32, []int) {
	t.Helper()
	X, y, err := digits.HeldOutSamples()
	require.NoError(t, err)
	require.Len(t, X, 360)
	if n < len(X) {
		X, y = X[:n], y[:n]
	}
	in := tensorIn{datatype: "FP32", shape: []int64{int64(len(X)), digits.Pixels}}
	for _, x := range X {
		for _, v := range x {
			in.data = append(in.data, float64(v))
		}
	}
	return in, X, y
}

type mlpAnswer struct {
	Class         int       `json:"class"`
	Label         string    `json:"label"`
	Probabilities []float32 `json:"probabilities"`
}

// The outputs mlpc declares and the digits network answers (its
// signature also declares values, which a softmax network never answers,
// so the server leaves it out): class INT64 [N], label BYTES [N],
// probabilities FP32 [N, 10].
var mlpcOutputs = []string{"class", "label", "probabilities"}

// restAnswers reads mlpc's declared outputs from a REST response body.
func restAnswers(t testing.TB, body map[string]any) []mlpAnswer {
	t.Helper()
	outs, ok := body["outputs"].([]any)
	require.True(t, ok, "%v", body)
	require.Len(t, outs, len(mlpcOutputs), "%v", body)
	var answers []mlpAnswer
	for k, want := range []struct{ name, datatype string }{{"class", "INT64"}, {"label", "BYTES"}, {"probabilities", "FP32"}} {
		out := outs[k].(map[string]any)
		require.Equal(t, want.name, out["name"])
		require.Equal(t, want.datatype, out["datatype"])
		shape := out["shape"].([]any)
		data := out["data"].([]any)
		if answers == nil {
			answers = make([]mlpAnswer, int(shape[0].(float64)))
		}
		require.Len(t, shape, map[string]int{"class": 1, "label": 1, "probabilities": 2}[want.name])
		require.Equal(t, float64(len(answers)), shape[0])
		for i := range answers {
			switch want.name {
			case "class":
				answers[i].Class = int(data[i].(float64))
			case "label":
				answers[i].Label = data[i].(string)
			case "probabilities":
				w := int(shape[1].(float64))
				for _, p := range data[i*w : (i+1)*w] {
					answers[i].Probabilities = append(answers[i].Probabilities, float32(p.(float64)))
				}
			}
		}
	}
	return answers
}

// grpcAnswers reads mlpc's declared outputs from a gRPC response, each in
// its datatype's typed contents.
func grpcAnswers(t testing.TB, resp *oippb.ModelInferResponse) []mlpAnswer {
	t.Helper()
	outs := resp.GetOutputs()
	require.Len(t, outs, len(mlpcOutputs))
	for k, name := range mlpcOutputs {
		require.Equal(t, name, outs[k].GetName())
	}
	class, label, probs := outs[0], outs[1], outs[2]
	assert.Equal(t, "INT64", class.GetDatatype())
	assert.Equal(t, "BYTES", label.GetDatatype())
	assert.Equal(t, "FP32", probs.GetDatatype())
	n := len(class.GetContents().GetInt64Contents())
	require.Equal(t, []int64{int64(n)}, class.GetShape())
	require.Len(t, label.GetContents().GetBytesContents(), n)
	require.Len(t, probs.GetShape(), 2)
	w := int(probs.GetShape()[1])
	require.Len(t, probs.GetContents().GetFp32Contents(), n*w)
	answers := make([]mlpAnswer, n)
	for i := range answers {
		answers[i] = mlpAnswer{Class: int(class.GetContents().GetInt64Contents()[i]), Label: string(label.GetContents().GetBytesContents()[i]),
			Probabilities: probs.GetContents().GetFp32Contents()[i*w : (i+1)*w]}
	}
	return answers
}

// TestConformanceExampleFactories serves every example factory, unchanged,
// and infers real requests over REST (every body schema-checked) and over
// gRPC, asserting the values and that both transports answer alike.
func TestConformanceExampleFactories(t *testing.T) {
	iris, err := os.ReadFile(filepath.Join("..", "examples", "factories", "centroid", "iris-config.json"))
	require.NoError(t, err)
	irisSoftmax, err := os.ReadFile(filepath.Join("..", "examples", "factories", "linear", "testdata", "iris_softmax.json"))
	require.NoError(t, err)
	es := newExampleServer(t,
		exampleModel{"linear", "linear.wasm", `{"weights": [[1, 2], [3, -4]], "bias": [0.5, -1]}`},
		exampleModel{"linear-iris", "linear.wasm", string(irisSoftmax)},
		exampleModel{"mlp", "mlp.wasm", `{"weights": "digits"}`},
		exampleModel{"mlpc", "mlpc.wasm", `{"weights": "digits"}`},
		exampleModel{"centroid", "centroid.wasm", string(iris)},
		exampleModel{"echo", "echo.wasm", `[1.5, 2]`},
		exampleModel{"greeter", "greeter.wasm", `{"greeting": "hi"}`},
		exampleModel{"scale", "scale.wasm", `{"factor": 2}`},
		exampleModel{"scale-rs", "scale-rs.wasm", `{"factor": 2}`},
		exampleModel{"scale-as", "scale-as.wasm", `{"factor": 2}`},
		exampleModel{"abi-only", "abi-only.wasm", `{}`},
	)
	native, err := mlpnet.Decode(digits.Weights)
	require.NoError(t, err)
	digitsIn, digitsX, digitsY := digitsRows(t, 5)

	fp32 := func(shape []int64, v ...float64) tensorIn {
		in := tensorIn{datatype: "FP32", shape: shape}
		for _, x := range v {
			in.data = append(in.data, x)
		}
		return in
	}
	scaled := func(t *testing.T, o tensorOut) {
		assert.Equal(t, tensorOut{"FP64", []int64{2, 2}, []any{2.0, 5.0, -6.0, 8.0}}, o)
	}
	tests := []struct {
		name, model, version string
		in                   tensorIn
		check                func(t *testing.T, o tensorOut)
	}{
		{"linear identity (Go SDK)", "linear", "1.0.0", fp32([]int64{2, 2}, 1, 1, 2, 0.5), func(t *testing.T, o tensorOut) {
			// W x + b, row by row: [1+2+0.5, 3-4-1] and [2+1+0.5, 6-2-1].
			rows := jsonRows[struct{ Outputs []float64 }](t, o)
			require.Len(t, rows, 2)
			assert.Equal(t, []float64{3.5, -2}, rows[0].Outputs)
			assert.Equal(t, []float64{3.5, 3}, rows[1].Outputs)
		}},
		{"linear softmax on iris (Go SDK)", "linear-iris", "1.0.0", fp32([]int64{3, 4}, 5.1, 3.5, 1.4, 0.2, 6.4, 3.2, 4.5, 1.5, 6.3, 3.3, 6.0, 2.5), func(t *testing.T, o tensorOut) {
			rows := jsonRows[struct {
				Class int
				Label string
			}](t, o)
			require.Len(t, rows, 3)
			for i, want := range []string{"setosa", "versicolor", "virginica"} {
				assert.Equal(t, i, rows[i].Class)
				assert.Equal(t, want, rows[i].Label)
			}
		}},
		{"mlp digits (Go SDK)", "mlp", "1.0.0", digitsIn, func(t *testing.T, o tensorOut) {
			rows := jsonRows[mlpAnswer](t, o)
			require.Len(t, rows, len(digitsX))
			for i, x := range digitsX {
				class, probs := native.Predict(x)
				assert.Equal(t, class, rows[i].Class, "row %d", i)
				assert.Equal(t, strconv.Itoa(class), rows[i].Label, "row %d", i)
				assert.Equal(t, probs, rows[i].Probabilities, "row %d: the float32 probabilities, bit for bit", i)
			}
		}},
		{"centroid on iris (C SDK)", "centroid", "1.0.0", fp32([]int64{3, 4}, 5.1, 3.5, 1.4, 0.2, 6.4, 3.2, 4.5, 1.5, 6.3, 3.3, 6.0, 2.5), func(t *testing.T, o tensorOut) {
			rows := jsonRows[struct {
				Class     int
				Label     string
				Distances []float64
			}](t, o)
			require.Len(t, rows, 3)
			for i, want := range []string{"setosa", "versicolor", "virginica"} {
				assert.Equal(t, i, rows[i].Class)
				assert.Equal(t, want, rows[i].Label)
				require.Len(t, rows[i].Distances, 3)
			}
			// The README's answer for the first flower.
			assert.InDeltaSlice(t, []float64{0.14135062787267663, 3.2679155435843197, 4.802520171743165}, rows[0].Distances, 1e-12)
		}},
		{"echo (WAT, docs/ABI.md §6)", "echo", "1.0.0", fp32([]int64{2, 3}, 1, 2, 3, 4, 5, 6), func(t *testing.T, o tensorOut) {
			assert.Equal(t, tensorOut{"FP64", []int64{2, 2}, []any{1.5, 2.0, 1.5, 2.0}}, o)
		}},
		{"greeter (Go SDK minimal)", "greeter", "1.0.0", tensorIn{"BYTES", []int64{2}, []any{"ann", "bob"}}, func(t *testing.T, o tensorOut) {
			assert.Equal(t, tensorOut{"BYTES", []int64{2}, []any{"hi, ann", "hi, bob"}}, o)
		}},
		{"scale (C SDK minimal)", "scale", "1.0.0", fp32([]int64{2, 2}, 1, 2.5, -3, 4), scaled},
		{"scale-rs (Rust SDK)", "scale-rs", "1.0.0", fp32([]int64{2, 2}, 1, 2.5, -3, 4), scaled},
		{"scale-as (AssemblyScript SDK)", "scale-as", "1.0.0", fp32([]int64{2, 2}, 1, 2.5, -3, 4), scaled},
		{"abi-only rows (WAT from docs/ABI.md alone)", "abi-only", "1.0.0", fp32([]int64{2, 2}, 1, 2, 3, 4), func(t *testing.T, o tensorOut) {
			// The rows arrive as "[1,2]" and "[3,4]": 5 bytes each, summing
			// to '['+'1'+','+'2'+']' = 327 and 331.
			assert.Equal(t, tensorOut{"FP64", []int64{2, 2}, []any{5.0, 327.0, 5.0, 331.0}}, o)
		}},
		{"abi-only bytes", "abi-only", "1.0.0", tensorIn{"BYTES", []int64{2}, []any{"hello", "abc"}}, func(t *testing.T, o tensorOut) {
			assert.Equal(t, tensorOut{"BYTES", []int64{2}, []any{"[5,532]", "[3,294]"}}, o)
		}},
		{"abi-only BOOL", "abi-only", "1.0.0", tensorIn{"BOOL", []int64{1, 2}, []any{true, false}}, func(t *testing.T, o tensorOut) {
			assert.Equal(t, tensorOut{"FP64", []int64{1, 2}, []any{12.0, float64(sumBytes("[true,false]"))}}, o)
		}},
		{"abi-only INT32", "abi-only", "1.0.0", tensorIn{"INT32", []int64{1, 2}, []any{-7.0, 40.0}}, func(t *testing.T, o tensorOut) {
			assert.Equal(t, tensorOut{"FP64", []int64{1, 2}, []any{7.0, float64(sumBytes("[-7,40]"))}}, o)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := es.rest
			status, md := c.get(t, "/v2/models/"+tc.model)
			require.Equal(t, 200, status, "%v", md)
			assert.Equal(t, []any{tc.version}, md["versions"])
			status, rd := c.get(t, "/v2/models/"+tc.model+"/versions/"+tc.version+"/ready")
			require.Equal(t, 200, status, "%v", rd)
			assert.Equal(t, true, rd["ready"])

			var rest tensorOut
			for _, path := range []string{"/v2/models/" + tc.model + "/infer", "/v2/models/" + tc.model + "/versions/" + tc.version + "/infer"} {
				status, body := c.infer(t, path, tc.in.restBody(t, "req-"+tc.model))
				require.Equal(t, 200, status, "%s: %v", path, body)
				assert.Equal(t, tc.model, body["model_name"])
				assert.Equal(t, tc.version, body["model_version"])
				assert.Equal(t, "req-"+tc.model, body["id"])
				got := restOutput(t, body)
				if rest.Datatype != "" {
					assert.Equal(t, rest, got, "%s: the same answer with and without the version", path)
				}
				rest = got
			}
			tc.check(t, rest)

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			resp, err := es.grpc.ModelInfer(ctx, tc.in.grpcRequest(tc.model, "req-"+tc.model))
			require.NoError(t, err)
			assert.Equal(t, tc.model, resp.GetModelName())
			assert.Equal(t, tc.version, resp.GetModelVersion())
			assert.Equal(t, "req-"+tc.model, resp.GetId())
			assert.Equal(t, rest, grpcOutput(t, resp), "gRPC answers as REST does")
			resp, err = es.grpc.ModelInfer(ctx, tc.in.rawRequest(tc.model, "req-"+tc.model))
			require.NoError(t, err)
			assert.Equal(t, rest, grpcOutput(t, resp), "gRPC with raw_input_contents answers as REST does")
		})
	}
	// mlpc declares its tensor signature (docs/SERVE.md, "Declared
	// signature"): model metadata reports it, and the answers come as its
	// declared outputs, typed, over REST and gRPC alike.
	t.Run("mlpc digits (C SDK, SIMD, declared signature)", func(t *testing.T) {
		c := es.rest
		status, md := c.get(t, "/v2/models/mlpc")
		require.Equal(t, 200, status, "%v", md)
		assert.Equal(t, []any{map[string]any{"name": "input", "datatype": "FP32", "shape": []any{-1.0, -1.0}}}, md["inputs"])
		var names []any
		for _, o := range md["outputs"].([]any) {
			names = append(names, o.(map[string]any)["name"])
		}
		assert.Equal(t, []any{"class", "label", "probabilities", "values"}, names)

		status, body := c.infer(t, "/v2/models/mlpc/versions/1.0.0/infer", digitsIn.restBody(t, "req-mlpc"))
		require.Equal(t, 200, status, "%v", body)
		rows := restAnswers(t, body)
		require.Len(t, rows, len(digitsX))
		for i, x := range digitsX {
			class, probs := native.Predict(x)
			assert.Equal(t, class, rows[i].Class, "row %d", i)
			assert.Equal(t, strconv.Itoa(class), rows[i].Label, "row %d", i)
			assert.Equal(t, probs, rows[i].Probabilities, "row %d: the float32 probabilities, bit for bit", i)
		}
		assert.Equal(t, digitsY[:2], []int{rows[0].Class, rows[1].Class}, "the first two held-out digits are right (the third is a 9 taken for a 3)")

		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		resp, err := es.grpc.ModelInfer(ctx, digitsIn.grpcRequest("mlpc", "req-mlpc"))
		require.NoError(t, err)
		assert.Equal(t, rows, grpcAnswers(t, resp), "gRPC answers as REST does")
		resp, err = es.grpc.ModelInfer(ctx, digitsIn.rawRequest("mlpc", "req-mlpc"))
		require.NoError(t, err)
		assert.Equal(t, rows, grpcAnswers(t, resp), "gRPC with raw_input_contents answers as REST does")

		// A request that disagrees with the declared input is refused.
		bad := digitsIn
		bad.datatype = "FP64"
		status, body = c.infer(t, "/v2/models/mlpc/infer", bad.restBody(t, "bad"))
		assert.Equal(t, 400, status)
		assert.Contains(t, body["error"], `model "mlpc": input "input": datatype "FP64", the model's signature declares FP32`)
	})
	t.Run("server metadata without extensions", func(t *testing.T) {
		status, body := es.rest.get(t, "/v2")
		require.Equal(t, 200, status)
		assert.Equal(t, []any{}, body["extensions"])
	})
	t.Run("digits held out", func(t *testing.T) { checkDigits(t, es) })
	t.Run("abi-only rejects an empty request", func(t *testing.T) {
		status, body := es.rest.infer(t, "/v2/models/abi-only/infer", tensorIn{"BYTES", []int64{1}, []any{""}}.restBody(t, "e"))
		assert.Equal(t, 400, status)
		assert.Contains(t, body["error"], "request: empty")
	})
}

func sumBytes(s string) int {
	n := 0
	for i := range len(s) {
		n += int(s[i])
	}
	return n
}

var demoAccuracyRE = regexp.MustCompile(`accuracy on all (\d+) held-out digits: (\d+)/(\d+)`)

// checkDigits classifies every held-out digit with the trained model over
// REST and over gRPC, served by the C factory (mlpc) and the Go one (mlp),
// and checks that the accuracy is the one the repository reports elsewhere:
// native mlpnet (the digits package's test), the factory's model called
// directly (the examples tests) and `wasmreg run`'s built-in demo.
func checkDigits(t *testing.T, es *exampleServer) {
	in, X, y := digitsRows(t, 360)

	native, err := mlpnet.Decode(digits.Weights)
	require.NoError(t, err)
	nativeCorrect := digits.Accuracy(native, X, y)

	bin := filepath.Join("..", "build", "bin", "wasmreg")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v (run make wasmreg)", bin, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	demo, err := exec.CommandContext(ctx, bin, "run").CombinedOutput()
	require.NoError(t, err, "%s", demo)
	m := demoAccuracyRE.FindSubmatch(demo)
	require.NotNil(t, m, "wasmreg run says no accuracy: %s", demo)
	demoCorrect, _ := strconv.Atoi(string(m[2]))
	require.Equal(t, "360", string(m[1]))

	for _, model := range []string{"mlpc", "mlp"} {
		t.Run(model, func(t *testing.T) {
			// The examples tests' way: the factory's model, called directly.
			hm, err := es.factories[model+".wasm"].BuildModel(ctx, []byte(`{"weights": "digits"}`))
			require.NoError(t, err)
			defer hm.Close(ctx)
			direct := 0
			for i, x := range X {
				req, _ := json.Marshal(x)
				out, err := hm.Predict(ctx, req)
				require.NoError(t, err, "row %d", i)
				var a mlpAnswer
				require.NoError(t, json.Unmarshal(out, &a))
				if a.Class == y[i] {
					direct++
				}
			}

			status, body := es.rest.infer(t, "/v2/models/"+model+"/infer", in.restBody(t, "digits"))
			require.Equal(t, 200, status, "%v", body)
			resp, err := es.grpc.ModelInfer(ctx, in.grpcRequest(model, "digits"))
			require.NoError(t, err)
			var answers []mlpAnswer
			if model == "mlpc" { // its declared outputs
				answers = restAnswers(t, body)
				assert.Equal(t, answers, grpcAnswers(t, resp), "gRPC answers as REST does")
			} else { // the generic BYTES output
				rest := restOutput(t, body)
				assert.Equal(t, []int64{360}, rest.Shape)
				answers = jsonRows[mlpAnswer](t, rest)
				assert.Equal(t, rest, grpcOutput(t, resp), "gRPC answers as REST does")
			}
			require.Len(t, answers, 360)
			restCorrect := 0
			for i, a := range answers {
				if a.Class == y[i] {
					restCorrect++
				}
			}

			msg := fmt.Sprintf("REST %d, direct %d, native %d, wasmreg run %d of 360", restCorrect, direct, nativeCorrect, demoCorrect)
			t.Logf("%s digits held-out accuracy over OIP REST: %.4f (%s)", model, float64(restCorrect)/360, msg)
			assert.Equal(t, direct, restCorrect, msg)
			assert.Equal(t, nativeCorrect, restCorrect, msg)
			assert.Equal(t, demoCorrect, restCorrect, msg)
			assert.Equal(t, 350, restCorrect, "the accuracy examples/digits/README.md reports: "+msg)
		})
	}
}
