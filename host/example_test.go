package host_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/registry"
)

// Load a factory, register it, build models from many goroutines and
// predict.
func Example() {
	ctx := context.Background()
	h, err := host.New(ctx, host.WithGrants(host.CapRandom))
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)

	wasm, err := os.ReadFile("testdata/echo.wasm")
	if err != nil {
		log.Fatal(err)
	}
	f, err := h.Load(ctx, wasm) // compiled once
	if err != nil {
		log.Fatal(err)
	}
	reg := registry.New()
	if err := reg.Register(f.Name(), f); err != nil {
		log.Fatal(err)
	}

	var wg sync.WaitGroup
	answers := make([]string, 3)
	for i := range answers {
		wg.Go(func() {
			// Each build is a fresh, private instance of the module.
			m, err := reg.Build(ctx, "echo", fmt.Appendf(nil, `{"model":%d}`, i))
			if err != nil {
				log.Fatal(err)
			}
			defer m.Close(ctx)
			out, err := m.Predict(ctx, []byte("hello"))
			if err != nil {
				log.Fatal(err)
			}
			answers[i] = string(out)
		})
	}
	wg.Wait()
	fmt.Println(reg.Names())
	for _, a := range answers {
		fmt.Println(a)
	}
	// Output:
	// [echo@1.0.0]
	// {"model":0}
	// {"model":1}
	// {"model":2}
}

func ExampleHost_Load() {
	ctx := context.Background()
	h, err := host.New(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)
	wasm, _ := os.ReadFile("testdata/echo.wasm")
	f, err := h.Load(ctx, wasm)
	if err != nil {
		log.Fatal(err)
	}
	info := f.Info()
	fmt.Println(info.Name, info.Version, info.Description)

	// A module that imports a capability the host did not grant is refused.
	wasm, _ = os.ReadFile("testdata/clock.wasm")
	_, err = h.Load(ctx, wasm)
	// Every problem is listed in a *host.ModuleError.
	fmt.Println(errors.Is(err, host.ErrNotGranted))
	var me *host.ModuleError
	if errors.As(err, &me) {
		for _, p := range me.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// echo 1.0.0 answers with its config
	// true
	// host: capability not granted: import wasmreg.clock_now needs capability "clock", which the host has not granted
}

func ExampleFactory_Build() {
	ctx := context.Background()
	h, _ := host.New(ctx)
	defer h.Close(ctx)
	wasm, _ := os.ReadFile("testdata/echo.wasm")
	f, _ := h.Load(ctx, wasm)

	m, err := f.Build(ctx, []byte(`{"threshold":0.5}`))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close(ctx)
	out, _ := m.Predict(ctx, []byte("x"))
	fmt.Println(string(out))
	// Output: {"threshold":0.5}
}

// A limit error names the option that raises the limit in a field, so a
// caller can word its own advice (a command line names its flag).
func ExampleLimitError() {
	ctx := context.Background()
	h, err := host.New(ctx, host.WithModuleSizeLimit(8))
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)
	_, err = h.Load(ctx, make([]byte, 10))
	var le *host.LimitError
	if errors.As(err, &le) {
		fmt.Println(errors.Is(err, host.ErrModuleTooLarge), le.Option, le.Limit, le.Got)
		fmt.Println(le.Advise("--module-size-limit"))
	}
	// Output:
	// true WithModuleSizeLimit 8 10
	// module sha256:01d448afd928 is 10 bytes, the limit is 8 (raise it with --module-size-limit)
}

// Recycle sandboxes: each model of a snapshotted factory that is closed
// cleanly hands its instance, reset to the state right after _initialize,
// to the next build. What one model wrote, the next never sees.
func ExampleWithRecycling() {
	ctx := context.Background()
	h, err := host.New(ctx, host.WithRecycling(8)) // keep up to 8 reset instances a factory
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)

	wasm, err := os.ReadFile("testdata/recycle/dirty.wasm")
	if err != nil {
		log.Fatal(err)
	}
	// Only snapshotted factories recycle: Go guests of 256 KiB or more.
	// The tests dress this small one up as a Go guest.
	f, err := h.Load(ctx, host.DressAsGo(wasm))
	if err != nil {
		log.Fatal(err)
	}
	var first []byte
	for i := range 3 {
		m, err := f.BuildModel(ctx, nil) // the second and third reuse the first's instance
		if err != nil {
			log.Fatal(err)
		}
		look, err := m.Predict(ctx, []byte("l")) // a digest of the guest's whole state
		if err != nil {
			log.Fatal(err)
		}
		if i == 0 {
			first = look
		}
		fmt.Printf("model %d sees a fresh state: %v\n", i, string(look) == string(first))
		if _, err := m.Predict(ctx, []byte("d")); err != nil { // write all over memory and globals
			log.Fatal(err)
		}
		if err := m.Close(ctx); err != nil { // a clean close: the instance is reset and kept
			log.Fatal(err)
		}
	}
	// Output:
	// model 0 sees a fresh state: true
	// model 1 sees a fresh state: true
	// model 2 sees a fresh state: true
}
