package serve_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/serve"
	"github.com/wasmreg/wasmreg/serve/oippb"
)

// sigFixture serves host/testdata/signature/signature.wasm (input "x" FP32 [-1, 2];
// outputs "label" INT64 [-1], "scores" FP32 [-1, 2]), which answers every
// request with its config, under one model per response to test, beside
// newFixture's generic echo.
func sigFixture(t *testing.T) *fixture {
	t.Helper()
	fx := newFixture(t)
	ctx := context.Background()
	h, err := host.New(ctx, host.WithCallTimeout(2*time.Second))
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(ctx) })
	f := loadFactory(t, h, "signature/signature.wasm")
	for name, config := range map[string]string{
		"sig":        `{"label":3,"scores":[0.25,0.75]}`,
		"sig-scores": `{"scores":[1,2]}`,
		"sig-frac":   `{"label":1.5}`,
		"sig-extra":  `{"label":1,"other":2}`,
		"sig-shape":  `{"scores":[1,2,3]}`,
		"sig-array":  `[1,2]`,
		"sig-string": `{"label":"three"}`,
		"sig-ragged": `{"scores":[[1,2],[3]]}`,
		"sig-range":  `{"scores":[1e39,1]}`,
	} {
		require.NoError(t, fx.srv.Load(ctx, serve.ModelSpec{Name: name, Factory: f, Config: []byte(config), Instances: 2}))
	}
	return fx
}

func TestSignatureMetadataREST(t *testing.T) {
	fx := sigFixture(t)
	tensor := func(name, dt string, shape ...any) map[string]any {
		return map[string]any{"name": name, "datatype": dt, "shape": shape}
	}
	for _, tc := range []struct {
		path          string
		inputs, outpt []any
	}{
		{"/v2/models/sig", []any{tensor("x", "FP32", -1.0, 2.0)},
			[]any{tensor("label", "INT64", -1.0), tensor("scores", "FP32", -1.0, 2.0)}},
		{"/v2/models/sig/versions/1.0.0", []any{tensor("x", "FP32", -1.0, 2.0)},
			[]any{tensor("label", "INT64", -1.0), tensor("scores", "FP32", -1.0, 2.0)}},
		{"/v2/models/echo", []any{tensor("input", "FP32", -1.0, -1.0)}, []any{tensor("output", "FP64", -1.0, -1.0)}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, body, _ := fx.do(t, "GET", tc.path, "")
			require.Equal(t, http.StatusOK, code)
			assert.Equal(t, tc.inputs, body["inputs"])
			assert.Equal(t, tc.outpt, body["outputs"])
		})
	}
}

func TestSignatureInferREST(t *testing.T) {
	fx := sigFixture(t)
	body := func(name, dt, shape, data string) string {
		return `{"inputs":[{"name":"` + name + `","datatype":"` + dt + `","shape":` + shape + `,"data":` + data + `}]}`
	}
	good := body("x", "FP32", "[3,2]", "[1,2,3,4,5,6]")
	t.Run("declared outputs", func(t *testing.T) {
		code, resp, _ := fx.do(t, "POST", "/v2/models/sig/infer", good)
		require.Equal(t, http.StatusOK, code, "%v", resp)
		assert.Equal(t, []any{
			map[string]any{"name": "label", "datatype": "INT64", "shape": []any{3.0}, "data": []any{3.0, 3.0, 3.0}},
			map[string]any{"name": "scores", "datatype": "FP32", "shape": []any{3.0, 2.0}, "data": []any{0.25, 0.75, 0.25, 0.75, 0.25, 0.75}},
		}, resp["outputs"])
	})
	t.Run("requested outputs, in the order asked", func(t *testing.T) {
		req := `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1,2]}],"outputs":[{"name":"scores"}]}`
		code, resp, _ := fx.do(t, "POST", "/v2/models/sig/infer", req)
		require.Equal(t, http.StatusOK, code, "%v", resp)
		assert.Equal(t, []any{map[string]any{"name": "scores", "datatype": "FP32", "shape": []any{1.0, 2.0}, "data": []any{0.25, 0.75}}}, resp["outputs"])
		req = `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1,2]}],"outputs":[{"name":"scores"},{"name":"label"}]}`
		code, resp, _ = fx.do(t, "POST", "/v2/models/sig/infer", req)
		require.Equal(t, http.StatusOK, code, "%v", resp)
		outs := resp["outputs"].([]any)
		require.Len(t, outs, 2)
		assert.Equal(t, "scores", outs[0].(map[string]any)["name"])
		assert.Equal(t, "label", outs[1].(map[string]any)["name"])
		req = `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1,2]}],"outputs":[{"name":"output"}]}`
		code, resp, _ = fx.do(t, "POST", "/v2/models/sig/infer", req)
		assert.Equal(t, http.StatusBadRequest, code)
		assert.Contains(t, resp["error"], `model "sig": requested output "output": the model's outputs are ["label" "scores"]`)
	})
	t.Run("an output no row holds is left out", func(t *testing.T) {
		code, resp, _ := fx.do(t, "POST", "/v2/models/sig-scores/infer", body("x", "FP32", "[1,2]", "[[1,2]]"))
		require.Equal(t, http.StatusOK, code, "%v", resp)
		assert.Equal(t, []any{map[string]any{"name": "scores", "datatype": "FP32", "shape": []any{1.0, 2.0}, "data": []any{1.0, 2.0}}}, resp["outputs"])
	})

	t.Run("an empty batch answers every output empty", func(t *testing.T) {
		code, resp, _ := fx.do(t, "POST", "/v2/models/sig/infer", body("x", "FP32", "[0,2]", "[]"))
		require.Equal(t, http.StatusOK, code, "%v", resp)
		assert.Equal(t, []any{
			map[string]any{"name": "label", "datatype": "INT64", "shape": []any{0.0}, "data": []any{}},
			map[string]any{"name": "scores", "datatype": "FP32", "shape": []any{0.0, 2.0}, "data": []any{}},
		}, resp["outputs"])
	})

	bad := []struct {
		name, model, body string
		status            int
		contains          string
	}{
		{"wrong name", "sig", body("y", "FP32", "[1,2]", "[1,2]"), 400, `model "sig": input "y": the model's signature declares its input "x"`},
		{"wrong datatype", "sig", body("x", "FP64", "[1,2]", "[1,2]"), 400, `model "sig": input "x": datatype "FP64", the model's signature declares FP32`},
		{"wrong fixed dim", "sig", body("x", "FP32", "[2,3]", "[1,2,3,4,5,6]"), 400, `input "x": shape [2 3], the model's signature declares [-1 2]`},
		{"wrong rank", "sig", body("x", "FP32", "[2]", "[1,2]"), 400, `input "x": shape [2], the model's signature declares [-1 2]`},
		{"data still checked", "sig", body("x", "FP32", "[1,2]", `[1,"a"]`), 400, `element 1: "a" is not a number`},
		{"fraction for INT64", "sig-frac", good, 500, `output "label": element 0: 1.5 is not an integer in the range of INT64`},
		{"undeclared field", "sig-extra", good, 500, `the response has field "other", which the model's signature does not declare`},
		{"declared fixed dim", "sig-shape", good, 500, `output "scores" has shape [3 3], the model's signature declares [-1 2]`},
		{"not an object", "sig-array", good, 500, `is not an object holding the 2 outputs`},
		{"string for INT64", "sig-string", good, 500, `"three" is not a number (INT64)`},
		{"ragged", "sig-ragged", good, 500, `arrays of 2 and 1 elements at depth 1`},
		{"FP32 range", "sig-range", good, 500, `1e39 is out of the range of FP32`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			code, resp, _ := fx.do(t, "POST", "/v2/models/"+tc.model+"/infer", tc.body)
			assert.Equal(t, tc.status, code)
			assert.Contains(t, resp["error"], tc.contains)
		})
	}

	// The generic model is unaffected: any input name, shape and datatype.
	code, resp, _ := fx.do(t, "POST", "/v2/models/echo/infer", body("anything", "INT8", "[2]", "[1,2]"))
	assert.Equal(t, http.StatusOK, code, "%v", resp)
}

func TestSignatureGRPC(t *testing.T) {
	fx := sigFixture(t)
	c := grpcClient(t, fx)
	ctx := bounded(t)

	mm, err := c.ModelMetadata(ctx, &oippb.ModelMetadataRequest{Name: "sig"})
	require.NoError(t, err)
	require.Len(t, mm.GetInputs(), 1)
	assert.Equal(t, "x", mm.GetInputs()[0].GetName())
	assert.Equal(t, "FP32", mm.GetInputs()[0].GetDatatype())
	assert.Equal(t, []int64{-1, 2}, mm.GetInputs()[0].GetShape())
	require.Len(t, mm.GetOutputs(), 2)
	assert.Equal(t, "label", mm.GetOutputs()[0].GetName())
	assert.Equal(t, "INT64", mm.GetOutputs()[0].GetDatatype())
	assert.Equal(t, []int64{-1}, mm.GetOutputs()[0].GetShape())
	assert.Equal(t, "scores", mm.GetOutputs()[1].GetName())
	generic, err := c.ModelMetadata(ctx, &oippb.ModelMetadataRequest{Name: "echo"})
	require.NoError(t, err)
	assert.Equal(t, "input", generic.GetInputs()[0].GetName())
	assert.Equal(t, []int64{-1, -1}, generic.GetOutputs()[0].GetShape())

	fp := &oippb.InferTensorContents{Fp32Contents: []float32{1, 2, 3, 4}}
	resp, err := c.ModelInfer(ctx, &oippb.ModelInferRequest{ModelName: "sig", Inputs: input("FP32", []int64{2, 2}, fp)})
	require.NoError(t, err)
	require.Len(t, resp.GetOutputs(), 2)
	label, scores := resp.GetOutputs()[0], resp.GetOutputs()[1]
	assert.Equal(t, "label", label.GetName())
	assert.Equal(t, "INT64", label.GetDatatype())
	assert.Equal(t, []int64{2}, label.GetShape())
	assert.Equal(t, []int64{3, 3}, label.GetContents().GetInt64Contents())
	assert.Equal(t, "FP32", scores.GetDatatype())
	assert.Equal(t, []int64{2, 2}, scores.GetShape())
	assert.Equal(t, []float32{0.25, 0.75, 0.25, 0.75}, scores.GetContents().GetFp32Contents())
	// Requested outputs select.
	resp, err = c.ModelInfer(ctx, &oippb.ModelInferRequest{ModelName: "sig", Inputs: input("FP32", []int64{2, 2}, fp),
		Outputs: []*oippb.ModelInferRequest_InferRequestedOutputTensor{{Name: "label"}}})
	require.NoError(t, err)
	require.Len(t, resp.GetOutputs(), 1)
	assert.Equal(t, "label", resp.GetOutputs()[0].GetName())
	// An empty batch: every declared output, empty, and the server lives on.
	resp, err = c.ModelInfer(ctx, &oippb.ModelInferRequest{ModelName: "sig", Inputs: input("FP32", []int64{0, 2}, &oippb.InferTensorContents{})})
	require.NoError(t, err)
	require.Len(t, resp.GetOutputs(), 2)
	assert.Equal(t, []int64{0, 2}, resp.GetOutputs()[1].GetShape())
	// Raw input is checked against the signature too.
	_, err = c.ModelInfer(ctx, &oippb.ModelInferRequest{ModelName: "sig", Inputs: input("FP32", []int64{1, 1}, nil),
		RawInputContents: [][]byte{{0, 0, 128, 63}}})
	assert.Equal(t, codes.InvalidArgument, status.Code(err))
	assert.Contains(t, status.Convert(err).Message(), `input "x": shape [1 1], the model's signature declares [-1 2]`)

	for _, tc := range []struct {
		name string
		req  *oippb.ModelInferRequest
		want codes.Code
		msg  string
	}{
		{"wrong name", &oippb.ModelInferRequest{ModelName: "sig", Inputs: []*oippb.ModelInferRequest_InferInputTensor{{Name: "y", Datatype: "FP32", Shape: []int64{2, 2}, Contents: fp}}},
			codes.InvalidArgument, `model "sig": input "y": the model's signature declares its input "x"`},
		{"wrong datatype", &oippb.ModelInferRequest{ModelName: "sig", Inputs: input("INT32", []int64{1, 2}, &oippb.InferTensorContents{IntContents: []int32{1, 2}})},
			codes.InvalidArgument, `datatype "INT32", the model's signature declares FP32`},
		{"bad response", &oippb.ModelInferRequest{ModelName: "sig-frac", Inputs: input("FP32", []int64{2, 2}, fp)},
			codes.Internal, `1.5 is not an integer`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ModelInfer(ctx, tc.req)
			assert.Equal(t, tc.want, status.Code(err), "%v", err)
			assert.Contains(t, status.Convert(err).Message(), tc.msg)
		})
	}
}

// Many clients at once get the declared outputs, each its own, under -race.
func TestSignatureConcurrent(t *testing.T) {
	fx := sigFixture(t)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			rows := i%4 + 1
			data := make([]float32, 2*rows)
			b, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "x", "datatype": "FP32", "shape": []int{rows, 2}, "data": data}}})
			code, resp, _ := fx.do(t, "POST", "/v2/models/sig/infer", string(b))
			if !assert.Equal(t, http.StatusOK, code, "%v", resp) {
				return
			}
			outs, _ := resp["outputs"].([]any)
			if assert.Len(t, outs, 2) {
				assert.Equal(t, []any{float64(rows)}, outs[0].(map[string]any)["shape"])
			}
		})
	}
	wg.Wait()
}
