package serve_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/serve"
)

// ExampleWithRelease closes each factory once the server is done with it:
// here a model replaced by a new build, then the new one at Shutdown; and
// keeps the server not ready until its models are loaded.
func ExampleWithRelease() {
	ctx := context.Background()
	h, _ := host.New(ctx)
	defer h.Close(ctx)
	wasm, _ := os.ReadFile("../host/testdata/echo.wasm")
	var loaded atomic.Bool
	srv, _ := serve.New(serve.WithLogger(quiet()),
		serve.WithReadyCheck(loaded.Load),
		serve.WithRelease(func(spec serve.ModelSpec) {
			fmt.Printf("release %s %s\n", spec.Name, spec.Config)
			_ = spec.Factory.Close(context.Background())
		}))
	for _, config := range []string{`"v1"`, `"v2"`} {
		f, err := h.Load(ctx, wasm) // a factory of its own for each build
		if err != nil {
			fmt.Println(err)
			return
		}
		if err := srv.Load(ctx, serve.ModelSpec{Name: "echo", Factory: f, Config: []byte(config)}); err != nil {
			fmt.Println(err) // f was released already
			return
		}
		fmt.Println("ready:", srv.Ready())
	}
	loaded.Store(true)
	fmt.Println("ready:", srv.Ready())
	_ = srv.Shutdown(ctx)
	// Output:
	// ready: false
	// release echo "v1"
	// ready: false
	// ready: true
	// release echo "v2"
}
