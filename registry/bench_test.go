package registry_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/wasmreg/wasmreg/registry"
)

// benchRegistry holds 100 base names with 5 versions each.
func benchRegistry(b *testing.B) *registry.Registry {
	b.Helper()
	r := registry.New()
	for i := range 100 {
		for v := range 5 {
			name := fmt.Sprintf("model-%03d@1.%d.0", i, v)
			if err := r.Register(name, newFake(name)); err != nil {
				b.Fatal(err)
			}
		}
	}
	return r
}

// BenchmarkLookupParallel looks names up from GOMAXPROCS goroutines. With
// lower-case names it must report 0 allocs/op.
func BenchmarkLookupParallel(b *testing.B) {
	r := benchRegistry(b)
	for _, bc := range []struct{ name, query string }{
		{"exact", "model-042@1.3.0"},
		{"bare", "model-042"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := r.Lookup(bc.query); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkBuild measures the registry's overhead around Factory.Build; the
// fake factory allocates one small model.
func BenchmarkBuild(b *testing.B) {
	r := benchRegistry(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		m, err := r.Build(ctx, "model-042", nil)
		if err != nil {
			b.Fatal(err)
		}
		_ = m
	}
}
