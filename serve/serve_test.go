package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/serve"
)

const token = "0123456789abcdef-token"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func loadFactory(t testing.TB, h *host.Host, name string) *host.Factory {
	t.Helper()
	wasm, err := os.ReadFile(filepath.Join("..", "host", "testdata", name))
	require.NoError(t, err)
	f, err := h.Load(context.Background(), wasm)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close(context.Background()) })
	return f
}

type fixture struct {
	srv   *serve.Server
	ts    *httptest.Server
	echo  *host.Factory
	guest *host.Factory
}

func newFixture(t *testing.T, opts ...serve.Option) *fixture {
	t.Helper()
	ctx := context.Background()
	h, err := host.New(ctx, host.WithGrants(host.CapClock, host.CapRandom, host.CapArtifact), host.WithCallTimeout(2*time.Second))
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(ctx) })
	fx := &fixture{echo: loadFactory(t, h, "echo.wasm"), guest: loadFactory(t, h, "guest.wasm")}
	resolver := func(_ context.Context, name string) (*host.Factory, error) {
		if name == "echo2" {
			return fx.echo, nil
		}
		return nil, fmt.Errorf("no factory %q", name)
	}
	opts = append([]serve.Option{serve.WithLogger(quiet()), serve.WithRepository(token, resolver)}, opts...)
	fx.srv, err = serve.New(opts...)
	require.NoError(t, err)
	require.NoError(t, fx.srv.Load(ctx, serve.ModelSpec{Name: "echo", Factory: fx.echo, Config: []byte(`[1.5,2]`), Instances: 2}))
	require.NoError(t, fx.srv.Load(ctx, serve.ModelSpec{Name: "guest", Factory: fx.guest, Config: []byte(`{}`), Instances: 2}))
	fx.ts = httptest.NewServer(fx.srv.Handler())
	t.Cleanup(fx.ts.Close)
	t.Cleanup(func() { _ = fx.srv.Close() })
	return fx
}

func (fx *fixture) do(t testing.TB, method, path, body string, hdr ...string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, fx.ts.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := fx.ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var v map[string]any
	if len(bytes.TrimSpace(raw)) > 0 && raw[0] == '{' {
		require.NoError(t, json.Unmarshal(raw, &v), "%s", raw)
	}
	return resp.StatusCode, v, resp.Header
}

func TestEndpoints(t *testing.T) {
	fx := newFixture(t)
	tests := []struct {
		name, method, path, body string
		status                   int
		key                      string
		want                     any
	}{
		{"live", "GET", "/v2/health/live", "", 200, "live", true},
		{"livez", "GET", "/livez", "", 200, "live", true},
		{"ready", "GET", "/v2/health/ready", "", 200, "ready", true},
		{"readyz", "GET", "/readyz", "", 200, "ready", true},
		{"server metadata", "GET", "/v2", "", 200, "name", "wasmreg"},
		{"server metadata at /v2/", "GET", "/v2/", "", 200, "name", "wasmreg"},
		{"model metadata", "GET", "/v2/models/echo", "", 200, "name", "echo"},
		{"model version metadata", "GET", "/v2/models/echo/versions/1.0.0", "", 200, "platform", "wasmreg"},
		{"unknown model", "GET", "/v2/models/nope", "", 404, "", nil},
		{"unknown version", "GET", "/v2/models/echo/versions/9", "", 404, "", nil},
		{"model ready", "GET", "/v2/models/echo/ready", "", 200, "ready", true},
		{"infer unknown model", "POST", "/v2/models/nope/infer", `{}`, 404, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, hdr := fx.do(t, tc.method, tc.path, tc.body)
			assert.Equal(t, tc.status, status)
			assert.NotEmpty(t, hdr.Get("X-Request-Id"))
			if tc.key != "" {
				assert.Equal(t, tc.want, body[tc.key])
			}
			if status >= 400 {
				assert.NotEmpty(t, body["error"])
			}
		})
	}
}

func TestInfer(t *testing.T) {
	fx := newFixture(t)
	tests := []struct {
		name, path, body string
		wantType         string
		wantShape        []any
		wantData         []any
	}{
		{"numeric rows to JSON arrays", "/v2/models/echo/infer",
			`{"id":"a","inputs":[{"name":"x","shape":[3,2],"datatype":"FP32","data":[1,2,3,4,5,6]}]}`,
			"FP64", []any{3.0, 2.0}, []any{1.5, 2.0, 1.5, 2.0, 1.5, 2.0}},
		{"nested data", "/v2/models/echo/infer",
			`{"inputs":[{"name":"x","shape":[2,2],"datatype":"INT32","data":[[1,2],[3,4]]}]}`,
			"FP64", []any{2.0, 2.0}, []any{1.5, 2.0, 1.5, 2.0}},
		{"bytes verbatim in order", "/v2/models/guest/infer",
			`{"inputs":[{"name":"x","shape":[2],"datatype":"BYTES","data":["za","zb"]}]}`,
			"BYTES", []any{2.0}, []any{"{}za", "{}zb"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := fx.do(t, "POST", tc.path, tc.body)
			require.Equal(t, 200, status, "%v", body)
			outs := body["outputs"].([]any)
			require.Len(t, outs, 1)
			out := outs[0].(map[string]any)
			assert.Equal(t, tc.wantType, out["datatype"])
			assert.Equal(t, tc.wantShape, out["shape"])
			assert.Equal(t, tc.wantData, out["data"])
		})
	}
}

func TestInferErrors(t *testing.T) {
	fx := newFixture(t, serve.WithBodyLimit(4096))
	in := func(shape, dt, data string) string {
		return `{"inputs":[{"name":"x","shape":` + shape + `,"datatype":"` + dt + `","data":` + data + `}]}`
	}
	tests := []struct {
		name, model, body string
		status            int
		contains          string
	}{
		{"malformed JSON", "echo", `{"inputs":`, 400, "malformed JSON"},
		{"no inputs", "echo", `{"inputs":[]}`, 400, "0 inputs"},
		{"unknown datatype", "echo", in("[1]", "FP7", "[1]"), 400, "unknown datatype"},
		{"negative dim", "echo", in("[-1]", "FP32", "[1]"), 400, "negative"},
		{"shape overflow", "echo", in("[4294967296,4294967296,4294967296]", "FP32", "[1]"), 400, "more than"},
		{"too little data", "echo", in("[2,2]", "FP32", "[1,2,3]"), 400, "holds 4 elements, data has 3"},
		{"too much data", "echo", in("[2]", "FP32", "[1,2,3]"), 400, "more data than the shape"},
		{"wrong type", "echo", in("[1]", "FP32", `["a"]`), 400, "not a number"},
		{"null number", "echo", in("[2]", "FP32", `[1,null]`), 400, "element 1 is null"},
		{"null bool", "echo", in("[1]", "BOOL", `[null]`), 400, "element 0 is null"},
		{"null string", "guest", in("[1]", "BYTES", `[null]`), 400, "element 0 is null"},
		{"null row", "echo", in("[2,1]", "FP32", `[[1],[null]]`), 400, "element 1 is null"},
		{"unknown requested output", "echo", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{"name":"foo"}]}`, 400, `requested output "foo"`},
		{"output requested twice", "echo", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{"name":"output"},{"name":"output"}]}`, 400, "requested twice"},
		{"requested output without a name", "echo", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{}]}`, 400, "has no name"},
		{"outputs not a list", "echo", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":{"name":"output"}}`, 400, "outputs"},
		{"int not integer", "echo", in("[1]", "INT8", `[1.5]`), 400, "not an integer"},
		{"int out of range", "echo", in("[1]", "UINT8", `[300]`), 400, "out of the range"},
		{"bool", "echo", in("[1]", "BOOL", `[1]`), 400, "not a BOOL"},
		{"bytes not string", "guest", in("[1]", "BYTES", `[1]`), 400, "not a string"},
		{"factory rejects", "guest", in("[1]", "BYTES", `["e"]`), 400, "guest"},
		{"guest trap", "guest", in("[1]", "BYTES", `["t"]`), 500, "trapped"},
		{"body too large", "echo", in("[1]", "FP32", "["+strings.Repeat("1,", 3000)+"1]"), 413, "limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := fx.do(t, "POST", "/v2/models/"+tc.model+"/infer", tc.body)
			assert.Equal(t, tc.status, status, "%v", body)
			msg, _ := body["error"].(string)
			assert.Contains(t, msg, tc.contains)
			assert.Contains(t, msg, tc.model)
		})
	}
	// The model keeps serving after every one of those.
	status, _, _ := fx.do(t, "POST", "/v2/models/guest/infer", in("[1]", "BYTES", `["z"]`))
	assert.Equal(t, 200, status)
}

func TestTimeoutKeepsServing(t *testing.T) {
	fx := newFixture(t)
	body := `{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["l"]}]}`
	status, b, _ := fx.do(t, "POST", "/v2/models/guest/infer", body, "Request-Timeout", "50ms")
	assert.Equal(t, 504, status, "%v", b)
	status, _, _ = fx.do(t, "POST", "/v2/models/guest/infer", body, "Request-Timeout", "nonsense")
	assert.Equal(t, 400, status)
	for range 4 {
		status, b, _ = fx.do(t, "POST", "/v2/models/guest/infer", `{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["z"]}]}`)
		assert.Equal(t, 200, status, "%v", b)
	}
}

func TestQueueFull(t *testing.T) {
	fx := newFixture(t, serve.WithConcurrency(1, 0))
	loop := `{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["l"]}]}`
	statuses := make(chan int, 3)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, _, _ := fx.do(t, "POST", "/v2/models/guest/infer", loop, "Request-Timeout", "1500ms")
			statuses <- s
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	assert.Equal(t, 1, count[504], "%v", count)
	assert.Equal(t, 2, count[429], "%v", count)
}

func TestRepository(t *testing.T) {
	fx := newFixture(t)
	auth := []string{"Authorization", "Bearer " + token}
	status, _, _ := fx.do(t, "POST", "/v2/repository/index", "")
	assert.Equal(t, 401, status)
	status, _, _ = fx.do(t, "POST", "/v2/repository/index", "", "Authorization", "Bearer wrong-token-wrong-token")
	assert.Equal(t, 401, status)
	status, b, _ := fx.do(t, "POST", "/v2/repository/models/echo2/load", `{"parameters":{"config":"[7]"}}`, auth...)
	require.Equal(t, 200, status, "%v", b)
	status, b, _ = fx.do(t, "POST", "/v2/models/echo2/infer", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}`)
	require.Equal(t, 200, status, "%v", b)
	assert.Equal(t, []any{7.0}, b["outputs"].([]any)[0].(map[string]any)["data"])
	status, _, _ = fx.do(t, "POST", "/v2/repository/models/nope/load", `{}`, auth...)
	assert.Equal(t, 404, status)
	status, _, _ = fx.do(t, "POST", "/v2/repository/models/echo2/unload", "", auth...)
	assert.Equal(t, 200, status)
	status, _, _ = fx.do(t, "GET", "/v2/models/echo2", "")
	assert.Equal(t, 404, status)
}

func TestRequestID(t *testing.T) {
	fx := newFixture(t)
	_, _, hdr := fx.do(t, "GET", "/v2/health/live", "", "X-Request-Id", "abc-123")
	assert.Equal(t, "abc-123", hdr.Get("X-Request-Id"))
	_, _, hdr = fx.do(t, "GET", "/v2/health/live", "", "X-Request-Id", "bad id "+strings.Repeat("x", 100))
	assert.Regexp(t, `^[0-9a-f]{16}$`, hdr.Get("X-Request-Id"))
}

func TestShutdown(t *testing.T) {
	fx := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, fx.srv.Shutdown(ctx))
	status, _, _ := fx.do(t, "GET", "/v2/health/ready", "")
	assert.Equal(t, 503, status)
	status, _, _ = fx.do(t, "POST", "/v2/models/echo/infer", `{}`)
	assert.Equal(t, 503, status)
}

func TestOptionsValidated(t *testing.T) {
	for name, o := range map[string]serve.Option{
		"WithBodyLimit": serve.WithBodyLimit(0), "WithRequestTimeout": serve.WithRequestTimeout(-1),
		"WithConcurrency": serve.WithConcurrency(0, 1), "WithRepository": serve.WithRepository("short", nil),
		"WithLogger": serve.WithLogger(nil),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := serve.New(o)
			require.ErrorIs(t, err, serve.ErrInvalidOption)
			assert.Contains(t, err.Error(), name)
		})
	}
}

// TestHammerReplace infers while the same model is replaced and unloaded
// and loaded again: a request either succeeds or, only while the model is
// unloaded, gets 404; nothing else fails.
func TestHammerReplace(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := []string{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s, b, _ := fx.do(t, "POST", "/v2/models/echo/infer", `{"inputs":[{"name":"x","shape":[2,1],"datatype":"FP32","data":[1,2]}]}`)
				if s != 200 && s != 404 {
					mu.Lock()
					bad = append(bad, fmt.Sprint(s, b))
					mu.Unlock()
				}
			}
		}()
	}
	for i := range 30 {
		switch i % 3 {
		case 0, 1:
			require.NoError(t, fx.srv.Load(ctx, serve.ModelSpec{Name: "echo", Factory: fx.echo, Config: []byte(fmt.Sprintf("[%d]", i)), Instances: 1 + i%3}))
		case 2:
			uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			require.NoError(t, fx.srv.Unload(uctx, "echo"))
			cancel()
		}
	}
	close(stop)
	wg.Wait()
	assert.Empty(t, bad)
}

// TestLoadOfOneNameDoesNotBlockOthers loads a model whose build spins
// until stopped, and meanwhile loads and unloads another name: those
// finish while the first is still building, since only loads of the same
// name take turns.
func TestLoadOfOneNameDoesNotBlockOthers(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	h, err := host.New(ctx, host.WithCallTimeout(time.Minute), host.WithGrants(host.CapClock, host.CapRandom, host.CapArtifact))
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(ctx) })
	spinning := loadFactory(t, h, "guest.wasm")

	buildCtx, stop := context.WithCancel(ctx)
	defer stop()
	stuck := make(chan error, 1)
	go func() {
		stuck <- fx.srv.Load(buildCtx, serve.ModelSpec{Name: "stuck", Factory: spinning, Config: []byte(`"L"`)})
	}()
	require.NoError(t, fx.srv.Load(ctx, serve.ModelSpec{Name: "other", Factory: fx.echo}))
	require.NoError(t, fx.srv.Unload(ctx, "other"))
	select {
	case err := <-stuck:
		t.Fatalf("the spinning build ended before the other name's load and unload: %v", err)
	default:
	}
	stop()
	select {
	case err := <-stuck:
		require.Error(t, err, "the spinning build was stopped")
	case <-time.After(30 * time.Second):
		t.Fatal("the spinning build did not stop when its context was canceled")
	}
	assert.NotContains(t, fx.srv.Models(), "stuck")
}
