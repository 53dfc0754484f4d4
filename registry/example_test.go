package registry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/wasmreg/wasmreg/registry"
)

// upperFactory is a toy Factory: its models upper-case their input, after a
// prefix taken from the build config.
type upperFactory struct{ version string }

func (f upperFactory) Info() registry.Info {
	return registry.Info{Name: "upper", Version: f.version, Description: "upper-cases its input"}
}

func (f upperFactory) Build(_ context.Context, config []byte) (registry.Model, error) {
	return upperModel{prefix: string(config)}, nil
}

type upperModel struct{ prefix string }

func (m upperModel) Predict(_ context.Context, input []byte) ([]byte, error) {
	return append([]byte(m.prefix), bytes.ToUpper(input)...), nil
}

func (upperModel) Close(context.Context) error { return nil }

// register adds an upperFactory that knows its own version.
func register(r *registry.Registry, name string) {
	_, version, err := registry.ParseName(name)
	if err != nil {
		panic(err)
	}
	if err := r.Register(name, upperFactory{version: version}); err != nil {
		panic(err)
	}
}

func ExampleRegistry() {
	r := registry.New()
	register(r, "Upper@1.0.0") // names are case-insensitive and stored in lower case
	register(r, "upper@1.10.0")
	register(r, "upper@1.2.0")
	register(r, "upper")
	register(r, "lower@0.1.0")

	fmt.Println(r.Len(), r.Names())

	err := r.Register("UPPER@1.2.0", upperFactory{})
	fmt.Println(errors.Is(err, registry.ErrAlreadyRegistered), err)

	fmt.Println(r.Unregister("upper"), r.Names())
	// Output:
	// 5 [lower@0.1.0 upper upper@1.0.0 upper@1.2.0 upper@1.10.0]
	// true registry: register "UPPER@1.2.0": registry: name already registered
	// <nil> [lower@0.1.0 upper@1.0.0 upper@1.2.0 upper@1.10.0]
}

func ExampleRegistry_Lookup() {
	r := registry.New()
	register(r, "upper")
	fmt.Println(r.Resolve("upper")) // only the unversioned entry: it is found

	register(r, "upper@1.0.0")
	register(r, "upper@2.0.0-rc.1")
	register(r, "upper@1.1.0")

	for _, name := range []string{"upper", "upper@1.0.0", "UPPER@2.0.0-RC.1"} {
		f, err := r.Lookup(name)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s -> version %q\n", name, f.Info().Version)
	}

	register(r, "upper@2.0.0") // a release sorts above its pre-releases
	full, _, _ := r.Resolve("upper")
	fmt.Println("upper ->", full)

	_, err := r.Lookup("upper@3.0.0")
	fmt.Println(err)
	_, err = r.Lookup("upper@v2")
	fmt.Println(err)
	// Output:
	// upper {} <nil>
	// upper -> version "2.0.0-rc.1"
	// upper@1.0.0 -> version "1.0.0"
	// UPPER@2.0.0-RC.1 -> version "2.0.0-rc.1"
	// upper -> upper@2.0.0
	// registry: lookup "upper@3.0.0": registry: factory not found
	// registry: lookup "upper@v2": registry: invalid name: version "v2" starts with "v"; write "2.0.0"
}

func ExampleRegistry_Build() {
	ctx := context.Background()
	r := registry.New()
	register(r, "upper@1.0.0")

	m, err := r.Build(ctx, "upper", []byte("> "))
	if err != nil {
		panic(err)
	}
	defer m.Close(ctx)
	out, err := m.Predict(ctx, []byte("hello"))
	fmt.Printf("%s %v\n", out, err)

	_, err = r.Build(ctx, "lower", nil)
	fmt.Println(errors.Is(err, registry.ErrNotFound), err)
	// Output:
	// > HELLO <nil>
	// true registry: build "lower": registry: factory not found
}

func ExampleParseName() {
	fmt.Println(registry.ParseName("MLP@1.2.0-RC.1"))
	fmt.Println(registry.ParseName("mlp"))
	_, _, err := registry.ParseName("mlp@1.2")
	fmt.Println(err)
	// Output:
	// mlp 1.2.0-rc.1 <nil>
	// mlp  <nil>
	// registry: invalid name "mlp@1.2": version "1.2" is not a strict semantic version MAJOR.MINOR.PATCH[-PRERELEASE] (invalid semantic version); write "1.2.0"
}
