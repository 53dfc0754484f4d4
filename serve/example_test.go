package serve_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/serve"
)

// Example serves the echo factory, whose model answers every request with
// its config, and calls its infer endpoint.
func Example() {
	ctx := context.Background()
	h, _ := host.New(ctx)
	defer h.Close(ctx)
	wasm, _ := os.ReadFile("../host/testdata/echo.wasm")
	f, err := h.Load(ctx, wasm)
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, _ := serve.New(serve.WithLogger(quiet()))
	defer srv.Close()
	if err := srv.Load(ctx, serve.ModelSpec{Name: "echo", Factory: f, Config: []byte(`[0.5]`), Instances: 2}); err != nil {
		fmt.Println(err)
		return
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/v2/models/echo/infer", "application/json",
		strings.NewReader(`{"inputs":[{"name":"x","shape":[2,1],"datatype":"FP32","data":[1,2]}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.StatusCode, " ", string(body))
	// Output:
	// 200 {"model_name":"echo","model_version":"1.0.0","outputs":[{"name":"output","shape":[2,1],"datatype":"FP64","data":[0.5,0.5]}]}
}
