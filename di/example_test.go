package di_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/wasmreg/wasmreg/di"
)

// Config is shared by the whole process.
type Config struct{ Greeting string }

// Session belongs to one request and is closed when the request ends.
type Session struct {
	ID     int
	Config *Config
}

// Close is called by Scope.End.
func (s *Session) Close(context.Context) error {
	fmt.Printf("session %d closed\n", s.ID)
	return nil
}

func ExampleContainer() {
	c := di.New()
	_ = di.Provide(c, di.Singleton, func(context.Context) (*Config, error) {
		return &Config{Greeting: "hello"}, nil
	})
	sessions := 0
	_ = di.Provide(c, di.Request, func(ctx context.Context) (*Session, error) {
		cfg, err := di.Resolve[*Config](ctx, c)
		if err != nil {
			return nil, err
		}
		sessions++
		return &Session{ID: sessions, Config: cfg}, nil
	})

	ctx, scope := c.BeginRequest(context.Background())
	s, err := di.Resolve[*Session](ctx, c)
	if err != nil {
		fmt.Println(err)
		return
	}
	again, _ := di.Resolve[*Session](ctx, c)
	fmt.Println(s.Config.Greeting, "from session", s.ID, "- same session:", s == again)
	if err := scope.End(ctx); err != nil {
		fmt.Println(err)
	}
	_, err = di.Resolve[*Session](ctx, c)
	fmt.Println(err)
	// Output:
	// hello from session 1 - same session: true
	// session 1 closed
	// di: request scope ended: resolve *di_test.Session
}

func ExampleProvide() {
	c := di.New()
	n := 0
	_ = di.Provide(c, di.Transient, func(context.Context) (*Session, error) {
		n++
		return &Session{ID: n}, nil
	})
	err := di.Provide(c, di.Singleton, func(context.Context) (*Session, error) { return nil, nil })
	fmt.Println(err, errors.Is(err, di.ErrDuplicateProvider))

	ctx := context.Background()
	a, _ := di.Resolve[*Session](ctx, c)
	b, _ := di.Resolve[*Session](ctx, c)
	fmt.Println("transient:", a.ID, b.ID)

	_ = di.Provide(c, di.Singleton, func(context.Context) (*Config, error) {
		return nil, errors.New("config file missing")
	})
	_, err = di.Resolve[*Config](ctx, c)
	fmt.Println(err)
	// Output:
	// di: duplicate provider: *di_test.Session true
	// transient: 1 2
	// di: build *di_test.Config: config file missing
}

func ExampleContainer_BeginRequest() {
	c := di.New()
	n := 0
	_ = di.Provide(c, di.Request, func(context.Context) (*Session, error) {
		n++
		return &Session{ID: n}, nil
	})
	handle := func(name string) {
		ctx, scope := c.BeginRequest(context.Background())
		defer scope.End(ctx)
		a, _ := di.Resolve[*Session](ctx, c)
		b, _ := di.Resolve[*Session](ctx, c)
		fmt.Printf("%s: session %d and %d\n", name, a.ID, b.ID)
	}
	handle("first request")
	handle("second request")

	_, err := di.Resolve[*Session](context.Background(), c)
	fmt.Println(errors.Is(err, di.ErrNoRequestScope))
	// Output:
	// first request: session 1 and 1
	// session 1 closed
	// second request: session 2 and 2
	// session 2 closed
	// true
}

func ExampleResolve_cycle() {
	type A struct{}
	type B struct{}
	c := di.New()
	_ = di.Provide(c, di.Singleton, func(ctx context.Context) (*A, error) {
		_, err := di.Resolve[*B](ctx, c)
		return &A{}, err
	})
	_ = di.Provide(c, di.Singleton, func(ctx context.Context) (*B, error) {
		_, err := di.Resolve[*A](ctx, c)
		return &B{}, err
	})
	_, err := di.Resolve[*A](context.Background(), c)
	fmt.Println(errors.Is(err, di.ErrCycle))
	fmt.Println(err)
	// Output:
	// true
	// di: build *di_test.A: di: build *di_test.B: di: dependency cycle: *di_test.A -> *di_test.B -> *di_test.A
}

func ExampleContainer_Close() {
	c := di.New()
	_ = di.Provide(c, di.Singleton, func(context.Context) (*Session, error) {
		return &Session{ID: 42}, nil
	})
	ctx := context.Background()
	_, _ = di.Resolve[*Session](ctx, c)
	fmt.Println(c.Close(ctx))
	fmt.Println(c.Close(ctx))
	// Output:
	// session 42 closed
	// <nil>
	// <nil>
}
