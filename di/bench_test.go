package di_test

import (
	"context"
	"testing"

	"github.com/wasmreg/wasmreg/di"
)

// benchSession is a request value with a Close, like Session, but silent.
type benchSession struct{ config *Config }

func (*benchSession) Close(context.Context) error { return nil }

// benchContainer provides a singleton *Config and a request-scoped
// *benchSession that depends on it.
func benchContainer(b *testing.B) *di.Container {
	b.Helper()
	c := di.New()
	if err := di.Provide(c, di.Singleton, func(context.Context) (*Config, error) {
		return &Config{Greeting: "hello"}, nil
	}); err != nil {
		b.Fatal(err)
	}
	if err := di.Provide(c, di.Request, func(ctx context.Context) (*benchSession, error) {
		cfg, err := di.Resolve[*Config](ctx, c)
		return &benchSession{config: cfg}, err
	}); err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkResolveSingleton(b *testing.B) {
	c := benchContainer(b)
	ctx := context.Background()
	if _, err := di.Resolve[*Config](ctx, c); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := di.Resolve[*Config](ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResolveRequestCached(b *testing.B) {
	c := benchContainer(b)
	ctx, scope := c.BeginRequest(context.Background())
	defer scope.End(ctx)
	if _, err := di.Resolve[*benchSession](ctx, c); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := di.Resolve[*benchSession](ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBeginEnd(b *testing.B) {
	c := benchContainer(b)
	bg := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ctx, scope := c.BeginRequest(bg)
		if err := scope.End(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequest is a whole request: begin, first resolve (one build of
// the request value), a cached resolve, end.
func BenchmarkRequest(b *testing.B) {
	c := benchContainer(b)
	bg := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ctx, scope := c.BeginRequest(bg)
		for range 2 {
			if _, err := di.Resolve[*benchSession](ctx, c); err != nil {
				b.Fatal(err)
			}
		}
		if err := scope.End(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveParallel resolves a cached request value and a singleton
// from many goroutines, each in its own request.
func BenchmarkResolveParallel(b *testing.B) {
	c := benchContainer(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx, scope := c.BeginRequest(context.Background())
		defer scope.End(ctx)
		for pb.Next() {
			if _, err := di.Resolve[*benchSession](ctx, c); err != nil {
				b.Error(err)
				return
			}
			if _, err := di.Resolve[*Config](ctx, c); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
