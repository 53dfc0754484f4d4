package serve_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/serve"
)

// TestReadyCheck: the embedder's condition keeps every readiness answer
// false until it holds.
func TestReadyCheck(t *testing.T) {
	var loaded atomic.Bool
	fx := newFixture(t, serve.WithReadyCheck(loaded.Load))
	for _, path := range []string{"/readyz", "/v2/health/ready"} {
		status, body, _ := fx.do(t, http.MethodGet, path, "")
		assert.Equal(t, http.StatusServiceUnavailable, status, path)
		assert.Equal(t, false, body["ready"], path)
	}
	assert.False(t, fx.srv.Ready())
	// Not ready: a model not loaded yet gets 503 (try another replica),
	// not 404; a loaded one still serves (as while draining).
	infer := `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}`
	status, body, _ := fx.do(t, http.MethodPost, "/v2/models/later/infer", infer)
	assert.Equal(t, http.StatusServiceUnavailable, status, "%v", body)
	assert.Contains(t, body["error"], `model "later": the server is not ready`)
	status, body, _ = fx.do(t, http.MethodPost, "/v2/models/echo/infer", infer)
	assert.Equal(t, http.StatusOK, status, "%v", body)
	loaded.Store(true)
	assert.True(t, fx.srv.Ready())
	status, _, _ = fx.do(t, http.MethodPost, "/v2/models/later/infer", infer)
	assert.Equal(t, http.StatusNotFound, status, "once ready, an unknown model is 404")
	status, body, _ = fx.do(t, http.MethodGet, "/v2/health/ready", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, true, body["ready"])
	require.NoError(t, fx.srv.Shutdown(context.Background()))
	assert.False(t, fx.srv.Ready(), "shutting down wins over the check")
}

// TestRelease: every Load's factory is released exactly once: at once for
// a failed Load, after the drain for a replaced or unloaded model, and at
// Shutdown for the rest.
func TestRelease(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	released := map[string]int{} // model name + config → releases
	release := func(s serve.ModelSpec) {
		mu.Lock()
		released[s.Name+" "+string(s.Config)]++
		mu.Unlock()
	}
	count := func(key string) int {
		mu.Lock()
		defer mu.Unlock()
		return released[key]
	}
	_, err := serve.New(serve.WithRelease(nil))
	require.ErrorIs(t, err, serve.ErrInvalidOption)
	_, err = serve.New(serve.WithReadyCheck(nil))
	require.ErrorIs(t, err, serve.ErrInvalidOption)

	h, err := host.New(ctx, host.WithCallTimeout(5*time.Second))
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(ctx) })
	echo := loadFactory(t, h, "echo.wasm")
	srv, err := serve.New(serve.WithLogger(quiet()), serve.WithRelease(release))
	require.NoError(t, err)

	// A failed load is released at once; so is an invalid spec.
	require.Error(t, srv.Load(ctx, serve.ModelSpec{Name: "m", Factory: echo, Config: []byte(`"` + string(make([]byte, 20000)) + `"`)}))
	assert.Equal(t, 1, count("m \""+string(make([]byte, 20000))+"\""))
	require.Error(t, srv.Load(ctx, serve.ModelSpec{Name: "bad name!", Factory: echo}))
	assert.Equal(t, 1, count("bad name! "))

	// Replaced: released once drained, and only then.
	require.NoError(t, srv.Load(ctx, serve.ModelSpec{Name: "m", Factory: echo, Config: []byte(`"v1"`)}))
	require.NoError(t, srv.Load(ctx, serve.ModelSpec{Name: "m", Factory: echo, Config: []byte(`"v2"`)}))
	assert.Equal(t, 1, count(`m "v1"`))
	assert.Equal(t, 0, count(`m "v2"`))
	require.NoError(t, srv.Unload(ctx, "m"))
	assert.Equal(t, 1, count(`m "v2"`), "Unload returns after the release")

	// Many requests on a model replaced under them.
	require.NoError(t, srv.Load(ctx, serve.ModelSpec{Name: "n", Factory: echo, Config: []byte(`"slow"`), Instances: 4}))
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			resp, err := http.Post(ts.URL+"/v2/models/n/infer", "application/json",
				strings.NewReader(`{"inputs":[{"name":"x","shape":[8],"datatype":"BYTES","data":["a","b","c","d","e","f","g","h"]}]}`))
			if assert.NoError(t, err) {
				assert.Contains(t, []int{http.StatusOK, http.StatusNotFound}, resp.StatusCode)
				_ = resp.Body.Close()
			}
		})
	}
	require.NoError(t, srv.Load(ctx, serve.ModelSpec{Name: "n", Factory: echo, Config: []byte(`"fast"`)}))
	wg.Wait()
	require.NoError(t, srv.Shutdown(ctx))
	assert.Equal(t, 1, count(`n "slow"`))
	assert.Equal(t, 1, count(`n "fast"`), "Shutdown releases what it closes")
}
