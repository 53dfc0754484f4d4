package serve_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/serve"
	"github.com/wasmreg/wasmreg/serve/oippb"
)

// oipClient is an HTTP client whose every request and response body is
// checked against the OIP schemas (oipTransport); a violation fails t.
type oipClient struct {
	base string
	tr   *oipTransport
	c    *http.Client
}

func newOIPClient(t *testing.T, baseURL string, base http.RoundTripper) *oipClient {
	t.Helper()
	tr := newOIPTransport(t, base)
	// A test whose requests all went unchecked would prove nothing.
	t.Cleanup(func() {
		if !t.Failed() {
			assert.Positive(t, tr.checked.Load(), "no body was schema-checked")
		}
	})
	return &oipClient{base: baseURL, tr: tr, c: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// oip returns a conformance-checked client of fx's REST server.
func (fx *fixture) oip(t *testing.T) *oipClient {
	return newOIPClient(t, fx.ts.URL, fx.ts.Client().Transport)
}

// do sends a request and returns the status and the body decoded as JSON.
func (c *oipClient) do(t testing.TB, ctx context.Context, method, path, body string, hdr ...string) (int, any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var v any
	require.NoError(t, json.Unmarshal(raw, &v), "%s %s: status %d: %s", method, path, resp.StatusCode, raw)
	return resp.StatusCode, v
}

func (c *oipClient) get(t testing.TB, path string) (int, map[string]any) {
	t.Helper()
	s, v := c.do(t, context.Background(), "GET", path, "")
	m, _ := v.(map[string]any)
	return s, m
}

func (c *oipClient) infer(t testing.TB, path, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	s, v := c.do(t, context.Background(), "POST", path, body, hdr...)
	m, _ := v.(map[string]any)
	return s, m
}

// output returns the only output tensor of an inference response.
func output(t testing.TB, body map[string]any) map[string]any {
	t.Helper()
	outs, ok := body["outputs"].([]any)
	require.True(t, ok, "%v", body)
	require.Len(t, outs, 1)
	out, ok := outs[0].(map[string]any)
	require.True(t, ok, "%v", body)
	assert.Equal(t, "output", out["name"])
	return out
}

// TestConformanceEndpoints calls every OIP endpoint, with and without a
// version where the protocol allows one, every body checked.
func TestConformanceEndpoints(t *testing.T) {
	fx := newFixture(t)
	c := fx.oip(t)
	tests := []struct {
		name, path string
		want       map[string]any
	}{
		{"server live", "/v2/health/live", map[string]any{"live": true}},
		{"livez", "/livez", map[string]any{"live": true}},
		{"server ready", "/v2/health/ready", map[string]any{"ready": true}},
		{"readyz", "/readyz", map[string]any{"ready": true}},
		{"server metadata", "/v2", map[string]any{"name": "wasmreg", "version": "1", "extensions": []any{"model_repository"}}},
		{"server metadata, the OpenAPI file's path", "/v2/", map[string]any{"name": "wasmreg", "version": "1", "extensions": []any{"model_repository"}}},
		{"model metadata", "/v2/models/echo", map[string]any{"name": "echo", "versions": []any{"1.0.0"}, "platform": "wasmreg"}},
		{"model metadata with version", "/v2/models/echo/versions/1.0.0", map[string]any{"name": "echo", "versions": []any{"1.0.0"}, "platform": "wasmreg"}},
		{"model ready", "/v2/models/guest/ready", map[string]any{"name": "guest", "ready": true}},
		{"model ready with version", "/v2/models/echo/versions/1.0.0/ready", map[string]any{"name": "echo", "ready": true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.get(t, tc.path)
			require.Equal(t, http.StatusOK, status, "%v", body)
			for k, v := range tc.want {
				assert.Equal(t, v, body[k], k)
			}
		})
	}
	t.Run("model metadata tensors", func(t *testing.T) {
		_, body := c.get(t, "/v2/models/echo")
		assert.Equal(t, []any{map[string]any{"name": "input", "datatype": "FP32", "shape": []any{-1.0, -1.0}}}, body["inputs"])
		assert.Equal(t, []any{map[string]any{"name": "output", "datatype": "FP64", "shape": []any{-1.0, -1.0}}}, body["outputs"])
	})
}

// TestConformanceInfer runs inference with every kind of tensor the
// protocol carries, every request and response checked against the schema.
func TestConformanceInfer(t *testing.T) {
	fx := newFixture(t)
	c := fx.oip(t)
	tests := []struct {
		name, path, body string
		wantID           any
		wantType         string
		wantShape        []any
		wantData         []any
	}{
		{"FP32 [N,F]", "/v2/models/echo/infer",
			`{"id":"r1","inputs":[{"name":"x","shape":[3,2],"datatype":"FP32","data":[1,2,3,4,5,6]}]}`,
			"r1", "FP64", []any{3.0, 2.0}, []any{1.5, 2.0, 1.5, 2.0, 1.5, 2.0}},
		{"FP32 nested, versioned path", "/v2/models/echo/versions/1.0.0/infer",
			`{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]}]}`,
			nil, "FP64", []any{2.0, 2.0}, []any{1.5, 2.0, 1.5, 2.0}},
		{"FP64 rank 1 is one request", "/v2/models/echo/infer",
			`{"inputs":[{"name":"x","shape":[3],"datatype":"FP64","data":[1,2,3]}]}`,
			nil, "FP64", []any{1.0, 2.0}, []any{1.5, 2.0}},
		{"INT32", "/v2/models/guest/infer",
			`{"inputs":[{"name":"x","shape":[2,2],"datatype":"INT32","data":[-1,2,3,4]}]}`,
			nil, "BYTES", []any{2.0}, []any{"{}[-1,2]", "{}[3,4]"}},
		{"INT64", "/v2/models/guest/infer",
			`{"inputs":[{"name":"x","shape":[1,2],"datatype":"INT64","data":[9007199254740992,-5]}]}`,
			nil, "BYTES", []any{1.0}, []any{"{}[9007199254740992,-5]"}},
		{"UINT8", "/v2/models/guest/infer",
			`{"inputs":[{"name":"x","shape":[1,3],"datatype":"UINT8","data":[0,128,255]}]}`,
			nil, "BYTES", []any{1.0}, []any{"{}[0,128,255]"}},
		{"BOOL", "/v2/models/guest/infer",
			`{"inputs":[{"name":"x","shape":[2,2],"datatype":"BOOL","data":[true,false,false,true]}]}`,
			nil, "BYTES", []any{2.0}, []any{"{}[true,false]", "{}[false,true]"}},
		{"BYTES in order", "/v2/models/guest/infer",
			`{"id":"b","inputs":[{"name":"x","shape":[3],"datatype":"BYTES","data":["za","zb","zc"]}]}`,
			"b", "BYTES", []any{3.0}, []any{"{}za", "{}zb", "{}zc"}},
		{"parameters on the request and the input", "/v2/models/echo/infer",
			`{"parameters":{"content_type":"np","n":1,"b":true},"inputs":[{"name":"x","shape":[1,1],"datatype":"FP32","parameters":{"k":"v"},"data":[1]}]}`,
			nil, "FP64", []any{1.0, 2.0}, []any{1.5, 2.0}},
		{"output requested by name", "/v2/models/echo/infer",
			`{"inputs":[{"name":"x","shape":[1,1],"datatype":"FP32","data":[1]}],"outputs":[{"name":"output","parameters":{"binary_data":false}}]}`,
			nil, "FP64", []any{1.0, 2.0}, []any{1.5, 2.0}},
		{"no rows", "/v2/models/echo/infer",
			`{"inputs":[{"name":"x","shape":[0,2],"datatype":"FP32","data":[]}]}`,
			nil, "BYTES", []any{0.0}, []any{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.infer(t, tc.path, tc.body)
			require.Equal(t, http.StatusOK, status, "%v", body)
			assert.Equal(t, tc.wantID, body["id"])
			model := strings.Split(tc.path, "/")[3]
			assert.Equal(t, model, body["model_name"])
			assert.Equal(t, map[string]any{"echo": "1.0.0", "guest": "1.2.3"}[model], body["model_version"])
			out := output(t, body)
			assert.Equal(t, tc.wantType, out["datatype"])
			assert.Equal(t, tc.wantShape, out["shape"])
			assert.Equal(t, tc.wantData, out["data"])
		})
	}
}

// TestConformanceErrors provokes every error status of the OIP endpoints;
// each error body must be the protocol's {"error": "..."}, naming the model.
func TestConformanceErrors(t *testing.T) {
	fx := newFixture(t, serve.WithBodyLimit(4096))
	c := fx.oip(t)
	in := func(shape, dt, data string) string {
		return `{"inputs":[{"name":"x","shape":` + shape + `,"datatype":"` + dt + `","data":` + data + `}]}`
	}
	tests := []struct {
		name, method, path, body string
		invalid                  bool // the request breaks the schema on purpose
		hdr                      []string
		status                   int
		contains                 string
	}{
		{"malformed JSON", "POST", "/v2/models/echo/infer", `{"inputs":`, true, nil, 400, "malformed JSON"},
		{"no inputs field", "POST", "/v2/models/echo/infer", `{"id":"1"}`, true, nil, 400, "0 inputs"},
		{"input without name: the server is lenient", "POST", "/v2/models/echo/infer", `{"inputs":[{"shape":[1],"datatype":"FP32","data":[1]}]}`, true, nil, 200, ""},
		{"empty inputs", "POST", "/v2/models/echo/infer", `{"inputs":[]}`, false, nil, 400, "0 inputs"},
		{"two inputs", "POST", "/v2/models/echo/infer", `{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1]},{"name":"b","shape":[1],"datatype":"FP32","data":[1]}]}`, false, nil, 400, "2 inputs"},
		{"unknown datatype", "POST", "/v2/models/echo/infer", in("[1]", "FP7", "[1]"), false, nil, 400, "unknown datatype"},
		{"shape and data disagree", "POST", "/v2/models/echo/infer", in("[2,2]", "FP32", "[1,2,3]"), false, nil, 400, "holds 4 elements"},
		{"value of the wrong type", "POST", "/v2/models/echo/infer", in("[1]", "FP32", `["a"]`), false, nil, 400, "not a number"},
		{"bad Request-Timeout", "POST", "/v2/models/guest/infer", in("[1]", "BYTES", `["z"]`), false, []string{"Request-Timeout", "soon"}, 400, "Request-Timeout"},
		{"factory rejects", "POST", "/v2/models/guest/infer", in("[1]", "BYTES", `["e"]`), false, nil, 400, "guest"},
		{"unknown model metadata", "GET", "/v2/models/nope", "", false, nil, 404, "nope"},
		{"unknown version metadata", "GET", "/v2/models/echo/versions/9", "", false, nil, 404, "version"},
		{"unknown model ready", "GET", "/v2/models/nope/ready", "", false, nil, 404, "nope"},
		{"unknown version ready", "GET", "/v2/models/echo/versions/9/ready", "", false, nil, 404, "version"},
		{"unknown model infer", "POST", "/v2/models/nope/infer", in("[1]", "FP32", "[1]"), false, nil, 404, "nope"},
		{"unknown version infer", "POST", "/v2/models/echo/versions/9/infer", in("[1]", "FP32", "[1]"), false, nil, 404, "version"},
		{"body over the limit", "POST", "/v2/models/echo/infer", in("[3001]", "FP32", "["+strings.Repeat("1,", 3000)+"1]"), false, nil, 413, "limit"},
		{"guest trap", "POST", "/v2/models/guest/infer", in("[1]", "BYTES", `["t"]`), false, nil, 500, "trapped"},
		{"deadline", "POST", "/v2/models/guest/infer", in("[1]", "BYTES", `["l"]`), false, []string{"Request-Timeout", "50ms"}, 504, "guest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.invalid {
				ctx = withInvalidRequest(ctx)
			}
			status, v := c.do(t, ctx, tc.method, tc.path, tc.body, tc.hdr...)
			body, _ := v.(map[string]any)
			require.Equal(t, tc.status, status, "%v", v)
			if tc.status >= 400 {
				assert.Contains(t, body["error"], tc.contains)
			}
		})
	}

	t.Run("queue full", func(t *testing.T) {
		fx := newFixture(t, serve.WithConcurrency(1, 0))
		c := fx.oip(t)
		loop := in("[1]", "BYTES", `["l"]`)
		statuses := make(chan int, 3)
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				s, _ := c.infer(t, "/v2/models/guest/infer", loop, "Request-Timeout", "1500ms")
				statuses <- s
			})
		}
		wg.Wait()
		close(statuses)
		count := map[int]int{}
		for s := range statuses {
			count[s]++
		}
		assert.Equal(t, map[int]int{504: 1, 429: 2}, count)
	})

	t.Run("shutting down", func(t *testing.T) {
		fx := newFixture(t)
		c := fx.oip(t)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, fx.srv.Shutdown(ctx))
		status, body := c.get(t, "/v2/health/ready")
		assert.Equal(t, 503, status)
		assert.Equal(t, false, body["ready"])
		status, body = c.get(t, "/v2/health/live")
		assert.Equal(t, 200, status)
		assert.Equal(t, true, body["live"])
		status, body = c.infer(t, "/v2/models/echo/infer", in("[1]", "FP32", "[1]"))
		assert.Equal(t, 503, status)
		assert.Contains(t, body["error"], "shutting down")
		status, body = c.get(t, "/v2/models/echo")
		assert.Equal(t, 503, status)
		assert.Contains(t, body["error"], "shutting down")
	})
}

// TestConformanceConcurrent infers from many goroutines at once, over REST
// through the checking transport and over gRPC, so that conformance holds
// under load and the checker itself is race-free.
func TestConformanceConcurrent(t *testing.T) {
	fx := newFixture(t)
	c := fx.oip(t)
	g := grpcClient(t, fx)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				id := strings.Repeat("x", w+1) + "-" + strings.Repeat("y", i+1)
				status, body := c.infer(t, "/v2/models/guest/infer",
					`{"id":"`+id+`","inputs":[{"name":"x","shape":[2],"datatype":"BYTES","data":["z`+id+`","z"]}]}`)
				if !assert.Equal(t, http.StatusOK, status, "%v", body) {
					return
				}
				assert.Equal(t, id, body["id"])
				assert.Equal(t, []any{"{}z" + id, "{}z"}, output(t, body)["data"])
				resp, err := g.ModelInfer(bounded(t), &oippb.ModelInferRequest{ModelName: "echo", Id: id,
					Inputs: input("FP32", []int64{int64(i + 1), 1}, &oippb.InferTensorContents{Fp32Contents: make([]float32, i+1)})})
				if !assert.NoError(t, err) {
					return
				}
				assert.Equal(t, id, resp.GetId())
				assert.Equal(t, []int64{int64(i + 1), 2}, resp.GetOutputs()[0].GetShape())
			}
		})
	}
	wg.Wait()
	assert.GreaterOrEqual(t, c.tr.checked.Load(), int64(8*10*2), "each request and response body checked against its schema")
}
