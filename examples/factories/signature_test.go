package factories_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/examples/digits"
	"github.com/wasmreg/wasmreg/examples/mlpnet"
	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/wasmbuild"
	"github.com/wasmreg/wasmreg/serve"
)

// TestCSDKSignature: WASMREG_TENSOR declares the C example's signature,
// and a misspelt datatype does not compile.
func TestCSDKSignature(t *testing.T) {
	t.Parallel()
	h, _ := cSDKHost(t)
	f, err := h.Load(context.Background(), cSDKMinimalWasm(t))
	require.NoError(t, err)
	sig, ok := f.Signature()
	require.True(t, ok)
	assert.Equal(t, host.Signature{
		Outputs: []host.TensorSpec{{Name: "output", Datatype: "FP64", Shape: []int64{-1, -1}}},
	}, sig, "the example declares its output only")

	root, err := wasmbuild.RepoRoot()
	require.NoError(t, err)
	dir := t.TempDir()
	src := filepath.Join(dir, "bad.c")
	require.NoError(t, os.WriteFile(src, []byte(`#define WASMREG_IMPLEMENTATION
#include "wasmreg.h"
WASMREG_INFO("{\"name\":\"bad\",\"version\":\"1.0.0\",\"tensors\":{\"inputs\":[" WASMREG_TENSOR("x", FP33, -1) "]}}");
int wasmreg_factory_build(const char *c, size_t n) { (void)c; (void)n; return 0; }
int wasmreg_factory_predict(const char *c, size_t n) { (void)c; (void)n; return 0; }
`), 0o644))
	err = wasmbuild.C(context.Background(), []string{src}, []string{filepath.Join(root, "guest-sdk", "c")}, filepath.Join(dir, "bad.wasm"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WASMREG__DT_FP33")
}

// TestMlpcSignature serves the digits model from mlpc over REST: model
// metadata reports mlpc's declared signature, a request that disagrees
// with it is refused naming what disagrees, and the response holds the
// declared outputs the digits network answers, typed as declared.
func TestMlpcSignature(t *testing.T) {
	t.Parallel()
	f, _ := mlpcFactory(t, mlpcSIMDWasm(t), host.ArtifactMap{"digits": digits.Weights})
	sig, ok := f.Signature()
	require.True(t, ok)
	assert.Equal(t, host.Signature{
		Inputs: []host.TensorSpec{{Name: "input", Datatype: "FP32", Shape: []int64{-1, -1}}},
		Outputs: []host.TensorSpec{
			{Name: "class", Datatype: "INT64", Shape: []int64{-1}},
			{Name: "label", Datatype: "BYTES", Shape: []int64{-1}},
			{Name: "probabilities", Datatype: "FP32", Shape: []int64{-1, -1}},
			{Name: "values", Datatype: "FP32", Shape: []int64{-1, -1}},
		},
	}, sig)

	srv, err := serve.New(serve.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	require.NoError(t, srv.Load(context.Background(), serve.ModelSpec{Name: "digits", Factory: f, Config: []byte(`{"weights": "digits"}`), Instances: 2}))
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	do := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		var r *bytes.Reader
		if body != nil {
			r = bytes.NewReader(mlpcJSON(t, body))
		} else {
			r = bytes.NewReader(nil)
		}
		req, err := http.NewRequest(method, ts.URL+path, r)
		require.NoError(t, err)
		resp, err := ts.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var v map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
		return resp.StatusCode, v
	}

	code, md := do("GET", "/v2/models/digits", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, []any{map[string]any{"name": "input", "datatype": "FP32", "shape": []any{-1.0, -1.0}}}, md["inputs"])
	assert.Len(t, md["outputs"], 4)

	X, _, err := digits.HeldOutSamples()
	require.NoError(t, err)
	rows := X[:3]
	infer := func(name, dt string, shape []int, data any) map[string]any {
		return map[string]any{"inputs": []any{map[string]any{"name": name, "datatype": dt, "shape": shape, "data": data}}}
	}
	code, resp := do("POST", "/v2/models/digits/infer", infer("input", "FP32", []int{3, 64}, rows))
	require.Equal(t, http.StatusOK, code, "%v", resp)
	outs := map[string]map[string]any{}
	for _, o := range resp["outputs"].([]any) {
		o := o.(map[string]any)
		outs[o["name"].(string)] = o
	}
	require.Contains(t, outs, "class")
	assert.NotContains(t, outs, "values", "a softmax network answers no values: left out")
	assert.Equal(t, "INT64", outs["class"]["datatype"])
	assert.Equal(t, []any{3.0}, outs["class"]["shape"])
	native, err := mlpnet.Decode(digits.Weights)
	require.NoError(t, err)
	var want []any
	for _, x := range rows {
		want = append(want, float64(mlpcWant(native, x).Class))
	}
	assert.Equal(t, want, outs["class"]["data"], "native mlpnet's classes")
	assert.Equal(t, "BYTES", outs["label"]["datatype"])
	assert.Equal(t, "FP32", outs["probabilities"]["datatype"])
	assert.Equal(t, []any{3.0, 10.0}, outs["probabilities"]["shape"])

	for _, tc := range []struct {
		name string
		body any
		want string
	}{
		{"wrong name", infer("pixels", "FP32", []int{1, 64}, X[:1]), `input "pixels": the model's signature declares its input "input"`},
		{"wrong datatype", infer("input", "FP64", []int{1, 64}, X[:1]), `datatype "FP64", the model's signature declares FP32`},
		{"wrong rank", infer("input", "FP32", []int{64}, X[0]), `shape [64], the model's signature declares [-1 -1]`},
	} {
		code, resp := do("POST", "/v2/models/digits/infer", tc.body)
		assert.Equal(t, http.StatusBadRequest, code, tc.name)
		assert.Contains(t, resp["error"], tc.want, tc.name)
	}
}

// TestASSDKSignature: tensors() declares the AssemblyScript example's
// signature; what it refuses fails wasmreg_info, so the Load, with the
// reason; its DATATYPES are the host's.
func TestASSDKSignature(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, _ := cSDKHost(t)
	f, err := h.Load(ctx, asSDKWasm(t, "scale", "example/scale.ts"))
	require.NoError(t, err)
	sig, ok := f.Signature()
	require.True(t, ok)
	assert.Equal(t, host.Signature{
		Inputs:  []host.TensorSpec{{Name: "input", Datatype: "FP32", Shape: []int64{-1, -1}}},
		Outputs: []host.TensorSpec{{Name: "output", Datatype: "FP64", Shape: []int64{-1, -1}}},
	}, sig)

	_, err = h.Load(ctx, asSDKWasm(t, "badsig", "testdata/badsig.ts"))
	var ce *host.CallError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, host.ExportInfo, ce.Export)
	assert.Equal(t, `wasmreg_info: tensors: inputs[0] "x": shape[1] is -2, want -1 (variable) or 0 to 16777216`, ce.Message)

	root, err := wasmbuild.RepoRoot()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "guest-sdk", "assemblyscript", "assembly", "index.ts"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?s)export const DATATYPES: string\[\] = \[([^\]]*)\];`).FindSubmatch(b)
	require.NotNil(t, m, "index.ts defines DATATYPES")
	var listed []string
	for _, q := range regexp.MustCompile(`"([^"]*)"`).FindAllSubmatch(m[1], -1) {
		listed = append(listed, string(q[1]))
	}
	assert.Equal(t, host.Datatypes(), listed)
}
