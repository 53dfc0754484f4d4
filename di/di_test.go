package di_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/di"
)

// closeLog records the order in which values are disposed.
type closeLog struct {
	mu    sync.Mutex // guards names
	names []string
}

func (l *closeLog) add(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names = append(l.names, name)
}

func (l *closeLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.names...)
}

// probe is embedded in the test's provided types: it counts Close calls,
// logs them and records the request it was built for.
type probe struct {
	name   string
	log    *closeLog
	err    error
	closed atomic.Int32
	scope  *di.Scope
	reqID  any
}

func (p *probe) close() error {
	p.closed.Add(1)
	if p.log != nil {
		p.log.add(p.name)
	}
	return p.err
}

// Distinct types, because providers are keyed by type. Those named ctx…
// have Close(context.Context) error; those named io… implement io.Closer.
type (
	item     struct{ n int }
	ctxReq   struct{ probe }
	ioReq    struct{ probe }
	ioTrans  struct{ probe }
	ctxSingl struct{ probe }
	ioSingl  struct{ probe }
	plain    struct{ _ int } // no Close: nothing to dispose
)

func (v *ctxReq) Close(context.Context) error   { return v.close() }
func (v *ioReq) Close() error                   { return v.close() }
func (v *ioTrans) Close() error                 { return v.close() }
func (v *ctxSingl) Close(context.Context) error { return v.close() }
func (v *ioSingl) Close() error                 { return v.close() }

var _ io.Closer = (*ioReq)(nil)

// newProbe returns a build-time probe named name#n, recording ctx's scope
// and request ID.
func newProbe(ctx context.Context, log *closeLog, name string, n int32) probe {
	s, _ := di.ScopeFrom(ctx)
	return probe{name: fmt.Sprintf("%s#%d", name, n), log: log, scope: s, reqID: ctx.Value(reqIDKey{})}
}

type reqIDKey struct{}

// waitCtx counts the goroutines that block in Resolve waiting for another
// goroutine's build: the container calls Done only when it is about to
// wait. Tests use it to release a build once every waiter is queued.
type waitCtx struct {
	context.Context
	waiting *atomic.Int32
}

func (c waitCtx) Done() <-chan struct{} {
	c.waiting.Add(1)
	return c.Context.Done()
}

// waitFor polls cond until it holds, failing the test after 5 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, 100*time.Microsecond)
}

func TestLifetimeString(t *testing.T) {
	tests := []struct {
		lt   di.Lifetime
		want string
	}{
		{di.Singleton, "singleton"},
		{di.Transient, "transient"},
		{di.Request, "request"},
		{0, "Lifetime(0)"},
		{42, "Lifetime(42)"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.lt.String())
		})
	}
}

func TestProvideErrors(t *testing.T) {
	build := func(context.Context) (*item, error) { return &item{}, nil }
	tests := []struct {
		name    string
		provide func(c *di.Container) error
		want    error
		msg     string
	}{
		{
			name:    "nil build",
			provide: func(c *di.Container) error { return di.Provide[*item](c, di.Singleton, nil) },
			want:    di.ErrInvalidProvider,
			msg:     "di: invalid provider: *di_test.item: nil build func",
		},
		{
			name:    "zero lifetime",
			provide: func(c *di.Container) error { return di.Provide(c, 0, build) },
			want:    di.ErrInvalidProvider,
			msg:     "di: invalid provider: *di_test.item: invalid lifetime Lifetime(0)",
		},
		{
			name:    "unknown lifetime",
			provide: func(c *di.Container) error { return di.Provide(c, 7, build) },
			want:    di.ErrInvalidProvider,
			msg:     "di: invalid provider: *di_test.item: invalid lifetime Lifetime(7)",
		},
		{
			name: "duplicate",
			provide: func(c *di.Container) error {
				require.NoError(t, di.Provide(c, di.Singleton, build))
				return di.Provide(c, di.Request, build)
			},
			want: di.ErrDuplicateProvider,
			msg:  "di: duplicate provider: *di_test.item",
		},
		{
			name: "duplicate value",
			provide: func(c *di.Container) error {
				require.NoError(t, di.Provide(c, di.Transient, build))
				return di.ProvideValue(c, &item{})
			},
			want: di.ErrDuplicateProvider,
			msg:  "di: duplicate provider: *di_test.item",
		},
		{
			name: "after close",
			provide: func(c *di.Container) error {
				require.NoError(t, c.Close(context.Background()))
				return di.Provide(c, di.Singleton, build)
			},
			want: di.ErrContainerClosed,
			msg:  "di: container closed: provide *di_test.item",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.provide(di.New())
			require.ErrorIs(t, err, tc.want)
			assert.EqualError(t, err, tc.msg)
		})
	}
}

func TestLifetimes(t *testing.T) {
	tests := []struct {
		lt         di.Lifetime
		sameInReq  bool // two resolves in one request share the value
		sameAcross bool // two requests share the value
		outside    error
		builds     int32 // after 2 resolves in each of 2 requests and 1 outside
	}{
		{lt: di.Singleton, sameInReq: true, sameAcross: true, builds: 1},
		{lt: di.Transient, sameInReq: false, sameAcross: false, builds: 5},
		{lt: di.Request, sameInReq: true, sameAcross: false, outside: di.ErrNoRequestScope, builds: 2},
	}
	for _, tc := range tests {
		t.Run(tc.lt.String(), func(t *testing.T) {
			c := di.New()
			var builds atomic.Int32
			require.NoError(t, di.Provide(c, tc.lt, func(context.Context) (*item, error) {
				return &item{n: int(builds.Add(1))}, nil
			}))
			resolveTwice := func() (*item, *item) {
				ctx, scope := c.BeginRequest(context.Background())
				defer func() { require.NoError(t, scope.End(ctx)) }()
				a, err := di.Resolve[*item](ctx, c)
				require.NoError(t, err)
				b, err := di.Resolve[*item](ctx, c)
				require.NoError(t, err)
				return a, b
			}
			a1, a2 := resolveTwice()
			b1, _ := resolveTwice()
			assert.Equal(t, tc.sameInReq, a1 == a2, "same within a request")
			assert.Equal(t, tc.sameAcross, a1 == b1, "same across requests")

			v, err := di.Resolve[*item](context.Background(), c)
			if tc.outside != nil {
				require.ErrorIs(t, err, tc.outside)
				assert.Nil(t, v)
			} else {
				require.NoError(t, err)
				assert.NotNil(t, v)
			}
			assert.Equal(t, tc.builds, builds.Load())
		})
	}
}

func TestProvideValue(t *testing.T) {
	c := di.New()
	v := &ioSingl{}
	require.NoError(t, di.ProvideValue(c, v))
	got, err := di.Resolve[*ioSingl](context.Background(), c)
	require.NoError(t, err)
	assert.Same(t, v, got)
	require.NoError(t, c.Close(context.Background()))
	assert.Zero(t, v.closed.Load(), "a provided value belongs to the caller")
}

func TestInterfaceTypes(t *testing.T) {
	c := di.New()
	require.NoError(t, di.Provide(c, di.Singleton, func(context.Context) (io.Reader, error) {
		return strings.NewReader("x"), nil
	}))
	require.NoError(t, di.Provide(c, di.Singleton, func(context.Context) (fmt.Stringer, error) {
		return nil, nil // a nil interface value is a valid value
	}))
	r, err := di.Resolve[io.Reader](context.Background(), c)
	require.NoError(t, err)
	assert.NotNil(t, r)
	for range 2 { // built, then cached
		s, err := di.Resolve[fmt.Stringer](context.Background(), c)
		require.NoError(t, err)
		assert.Nil(t, s)
	}
	_, err = di.Resolve[*strings.Reader](context.Background(), c)
	require.ErrorIs(t, err, di.ErrNoProvider, "keys are static types")
}

func TestProvidedAndTypes(t *testing.T) {
	c := di.New()
	assert.Empty(t, c.Types())
	assert.False(t, di.Provided[*item](c))
	require.NoError(t, di.ProvideValue(c, &plain{}))
	require.NoError(t, di.Provide(c, di.Request, func(context.Context) (*item, error) { return &item{}, nil }))
	require.NoError(t, di.ProvideValue[io.Reader](c, strings.NewReader("")))
	assert.True(t, di.Provided[*item](c))
	assert.True(t, di.Provided[io.Reader](c))
	assert.False(t, di.Provided[*strings.Reader](c))
	assert.Equal(t, []string{"*di_test.item", "*di_test.plain", "io.Reader"}, c.Types())
}

func TestResolveErrors(t *testing.T) {
	type (
		capS  struct{}
		capT  struct{}
		capR  struct{}
		cycA  struct{}
		cycB  struct{}
		cycR1 struct{}
		cycR2 struct{}
		cycT  struct{}
		self  struct{}
	)
	c := di.New()
	provide := func(err error) { require.NoError(t, err) }
	// Captive: singleton -> request, and singleton -> transient -> request.
	provide(di.Provide(c, di.Request, func(context.Context) (*capR, error) { return &capR{}, nil }))
	provide(di.Provide(c, di.Singleton, func(ctx context.Context) (*capS, error) {
		_, err := di.Resolve[*capT](ctx, c)
		return &capS{}, err
	}))
	provide(di.Provide(c, di.Transient, func(ctx context.Context) (*capT, error) {
		_, err := di.Resolve[*capR](ctx, c)
		return &capT{}, err
	}))
	type capDirect struct{}
	provide(di.Provide(c, di.Singleton, func(ctx context.Context) (*capDirect, error) {
		_, err := di.Resolve[*capR](ctx, c)
		return &capDirect{}, err
	}))
	// Cycles: singleton A -> B -> A, request R1 -> R2 -> R1, transient
	// self-loop through a singleton, and a type that needs itself.
	provide(di.Provide(c, di.Singleton, func(ctx context.Context) (*cycA, error) {
		_, err := di.Resolve[*cycB](ctx, c)
		return &cycA{}, err
	}))
	provide(di.Provide(c, di.Singleton, func(ctx context.Context) (*cycB, error) {
		_, err := di.Resolve[*cycA](ctx, c)
		return &cycB{}, err
	}))
	provide(di.Provide(c, di.Request, func(ctx context.Context) (*cycR1, error) {
		_, err := di.Resolve[*cycR2](ctx, c)
		return &cycR1{}, err
	}))
	provide(di.Provide(c, di.Request, func(ctx context.Context) (*cycR2, error) {
		_, err := di.Resolve[*cycR1](ctx, c)
		return &cycR2{}, err
	}))
	provide(di.Provide(c, di.Transient, func(ctx context.Context) (*cycT, error) {
		_, err := di.Resolve[*cycT](ctx, c)
		return &cycT{}, err
	}))
	provide(di.Provide(c, di.Request, func(ctx context.Context) (*self, error) {
		_, err := di.Resolve[*self](ctx, c)
		return &self{}, err
	}))

	bg := context.Background()
	reqCtx, scope := c.BeginRequest(bg)
	defer func() { require.NoError(t, scope.End(bg)) }()

	tests := []struct {
		name    string
		ctx     context.Context
		resolve func(context.Context) error
		want    error
		msg     string
	}{
		{
			name:    "no provider",
			ctx:     bg,
			resolve: func(ctx context.Context) error { _, err := di.Resolve[*item](ctx, c); return err },
			want:    di.ErrNoProvider,
			msg: "di: no provider: *di_test.item (provided: *di_test.capDirect, *di_test.capR, *di_test.capS, " +
				"*di_test.capT, *di_test.cycA, *di_test.cycB, *di_test.cycR1, *di_test.cycR2, *di_test.cycT, *di_test.self)",
		},
		{
			name: "no provider in an empty container",
			ctx:  bg,
			resolve: func(ctx context.Context) error {
				_, err := di.Resolve[*item](ctx, di.New())
				return err
			},
			want: di.ErrNoProvider,
			msg:  "di: no provider: *di_test.item (nothing is provided)",
		},
		{
			name:    "no request scope",
			ctx:     bg,
			resolve: func(ctx context.Context) error { _, err := di.Resolve[*capR](ctx, c); return err },
			want:    di.ErrNoRequestScope,
			msg:     "di: no request scope: *di_test.capR has request lifetime; resolve it with a context from BeginRequest",
		},
		{
			name:    "captive direct",
			ctx:     reqCtx,
			resolve: func(ctx context.Context) error { _, err := di.Resolve[*capDirect](ctx, c); return err },
			want:    di.ErrCaptiveDependency,
			msg: "di: build *di_test.capDirect: di: captive dependency: singleton *di_test.capDirect " +
				"depends on request-scoped *di_test.capR (*di_test.capDirect -> *di_test.capR)",
		},
		{
			name: "captive when the request value exists",
			ctx:  reqCtx,
			resolve: func(ctx context.Context) error {
				_, err := di.Resolve[*capR](ctx, c)
				require.NoError(t, err)
				_, err = di.Resolve[*capDirect](ctx, c)
				return err
			},
			want: di.ErrCaptiveDependency,
			msg: "di: build *di_test.capDirect: di: captive dependency: singleton *di_test.capDirect " +
				"depends on request-scoped *di_test.capR (*di_test.capDirect -> *di_test.capR)",
		},
		{
			name:    "captive through a transient",
			ctx:     reqCtx,
			resolve: func(ctx context.Context) error { _, err := di.Resolve[*capS](ctx, c); return err },
			want:    di.ErrCaptiveDependency,
			msg: "di: build *di_test.capS: di: build *di_test.capT: di: captive dependency: singleton *di_test.capS " +
				"depends on request-scoped *di_test.capR (*di_test.capS -> *di_test.capT -> *di_test.capR)",
		},
		{
			name:    "captive outside a request",
			ctx:     bg,
			resolve: func(ctx context.Context) error { _, err := di.Resolve[*capS](ctx, c); return err },
			want:    di.ErrCaptiveDependency,
			msg: "di: build *di_test.capS: di: build *di_test.capT: di: captive dependency: singleton *di_test.capS " +
				"depends on request-scoped *di_test.capR (*di_test.capS -> *di_test.capT -> *di_test.capR)",
		},
		{
			name:    "singleton cycle",
			ctx:     bg,
			resolve: func(ctx context.Context) error { _, err := di.Resolve[*cycA](ctx, c); return err },
			want:    di.ErrCycle,
			msg: "di: build *di_test.cycA: di: build *di_test.cycB: " +
				"di: dependency cycle: *di_test.cycA -> *di_test.cycB -> *di_test.cycA",
		},
		{
			name:    "singleton cycle entered at the other end",
			ctx:     bg,
			resolve: func(ctx context.Context) error { _, err := di.Resolve[*cycB](ctx, c); return err },
			want:    di.ErrCycle,
			msg: "di: build *di_test.cycB: di: build *di_test.cycA: " +
				"di: dependency cycle: *di_test.cycB -> *di_test.cycA -> *di_test.cycB",
		},
		{
			name:    "request cycle",
			ctx:     reqCtx,
			resolve: func(ctx context.Context) error { _, err := di.Resolve[*cycR1](ctx, c); return err },
			want:    di.ErrCycle,
			msg: "di: build *di_test.cycR1: di: build *di_test.cycR2: " +
				"di: dependency cycle: *di_test.cycR1 -> *di_test.cycR2 -> *di_test.cycR1",
		},
		{
			name:    "transient self cycle",
			ctx:     bg,
			resolve: func(ctx context.Context) error { _, err := di.Resolve[*cycT](ctx, c); return err },
			want:    di.ErrCycle,
			msg:     "di: build *di_test.cycT: di: dependency cycle: *di_test.cycT -> *di_test.cycT",
		},
		{
			name:    "request self cycle",
			ctx:     reqCtx,
			resolve: func(ctx context.Context) error { _, err := di.Resolve[*self](ctx, c); return err },
			want:    di.ErrCycle,
			msg:     "di: build *di_test.self: di: dependency cycle: *di_test.self -> *di_test.self",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // failures are not cached: the second try fails alike
				err := tc.resolve(tc.ctx)
				require.ErrorIs(t, err, tc.want)
				assert.EqualError(t, err, tc.msg)
			}
		})
	}
}

func TestBuildErrorIsWrappedAndRetried(t *testing.T) {
	boom := errors.New("boom")
	for _, lt := range []di.Lifetime{di.Singleton, di.Transient, di.Request} {
		t.Run(lt.String(), func(t *testing.T) {
			c := di.New()
			var builds atomic.Int32
			require.NoError(t, di.Provide(c, lt, func(context.Context) (*item, error) {
				if builds.Add(1) == 1 {
					return nil, boom
				}
				return &item{}, nil
			}))
			ctx, scope := c.BeginRequest(context.Background())
			defer func() { require.NoError(t, scope.End(ctx)) }()
			_, err := di.Resolve[*item](ctx, c)
			require.ErrorIs(t, err, boom)
			assert.EqualError(t, err, "di: build *di_test.item: boom")
			v, err := di.Resolve[*item](ctx, c)
			require.NoError(t, err)
			assert.NotNil(t, v)
			assert.Equal(t, int32(2), builds.Load())
		})
	}
}

func TestScopeEnd(t *testing.T) {
	log := &closeLog{}
	c := di.New()
	var n atomic.Int32
	require.NoError(t, di.Provide(c, di.Request, func(ctx context.Context) (*ctxReq, error) {
		return &ctxReq{probe: newProbe(ctx, log, "ctxReq", n.Add(1))}, nil
	}))
	require.NoError(t, di.Provide(c, di.Transient, func(ctx context.Context) (*ioTrans, error) {
		return &ioTrans{probe: newProbe(ctx, log, "ioTrans", n.Add(1))}, nil
	}))
	// ioReq needs ctxReq and an ioTrans, so they are created before it.
	require.NoError(t, di.Provide(c, di.Request, func(ctx context.Context) (*ioReq, error) {
		if _, err := di.Resolve[*ctxReq](ctx, c); err != nil {
			return nil, err
		}
		if _, err := di.Resolve[*ioTrans](ctx, c); err != nil {
			return nil, err
		}
		return &ioReq{probe: newProbe(ctx, log, "ioReq", n.Add(1))}, nil
	}))
	require.NoError(t, di.Provide(c, di.Request, func(ctx context.Context) (*plain, error) {
		return &plain{}, nil // nothing to dispose
	}))
	require.NoError(t, di.ProvideValue(c, "a singleton"))

	ctx, scope := c.BeginRequest(context.Background())
	_, err := di.Resolve[*ioReq](ctx, c)
	require.NoError(t, err)
	_, err = di.Resolve[*plain](ctx, c)
	require.NoError(t, err)
	_, err = di.Resolve[*ioTrans](ctx, c)
	require.NoError(t, err)
	assert.Empty(t, log.list(), "nothing is disposed before End")
	assert.False(t, scope.Ended())

	require.NoError(t, scope.End(ctx))
	assert.True(t, scope.Ended())
	assert.Equal(t, []string{"ioTrans#4", "ioReq#3", "ioTrans#2", "ctxReq#1"}, log.list(),
		"disposed in reverse order of creation")
	require.NoError(t, scope.End(ctx), "End is idempotent")
	assert.Len(t, log.list(), 4, "nothing is disposed twice")

	for name, resolve := range map[string]func() error{
		"request":   func() error { _, err := di.Resolve[*ctxReq](ctx, c); return err },
		"transient": func() error { _, err := di.Resolve[*ioTrans](ctx, c); return err },
		"singleton": func() error { _, err := di.Resolve[string](ctx, c); return err },
	} {
		t.Run(name+" after End", func(t *testing.T) {
			err := resolve()
			require.ErrorIs(t, err, di.ErrScopeEnded)
			assert.Contains(t, err.Error(), "di: request scope ended: resolve ")
		})
	}
}

func TestScopeEndJoinsErrors(t *testing.T) {
	errCtx, errIO := errors.New("ctx close failed"), errors.New("io close failed")
	c := di.New()
	require.NoError(t, di.Provide(c, di.Request, func(context.Context) (*ctxReq, error) {
		return &ctxReq{probe: probe{err: errCtx}}, nil
	}))
	require.NoError(t, di.Provide(c, di.Request, func(context.Context) (*ioReq, error) {
		return &ioReq{probe: probe{err: errIO}}, nil
	}))
	ctx, scope := c.BeginRequest(context.Background())
	a, err := di.Resolve[*ctxReq](ctx, c)
	require.NoError(t, err)
	b, err := di.Resolve[*ioReq](ctx, c)
	require.NoError(t, err)

	err = scope.End(ctx)
	require.ErrorIs(t, err, errCtx)
	require.ErrorIs(t, err, errIO)
	assert.EqualError(t, err, "di: close *di_test.ioReq: io close failed\ndi: close *di_test.ctxReq: ctx close failed")
	assert.Equal(t, int32(1), a.closed.Load(), "a failed Close does not stop the others")
	assert.Equal(t, int32(1), b.closed.Load())
	assert.NoError(t, scope.End(ctx))
}

func TestTransientOutsideRequestBelongsToCaller(t *testing.T) {
	c := di.New()
	require.NoError(t, di.Provide(c, di.Transient, func(context.Context) (*ioTrans, error) { return &ioTrans{}, nil }))
	v, err := di.Resolve[*ioTrans](context.Background(), c)
	require.NoError(t, err)
	require.NoError(t, c.Close(context.Background()))
	assert.Zero(t, v.closed.Load())
}

func TestContainerClose(t *testing.T) {
	log := &closeLog{}
	errIO := errors.New("io close failed")
	c := di.New()
	require.NoError(t, di.Provide(c, di.Singleton, func(ctx context.Context) (*ctxSingl, error) {
		return &ctxSingl{probe: probe{name: "ctxSingl", log: log}}, nil
	}))
	require.NoError(t, di.Provide(c, di.Singleton, func(ctx context.Context) (*ioSingl, error) {
		if _, err := di.Resolve[*ctxSingl](ctx, c); err != nil {
			return nil, err
		}
		return &ioSingl{probe: probe{name: "ioSingl", log: log, err: errIO}}, nil
	}))
	given := &ioReq{}
	require.NoError(t, di.ProvideValue(c, given))

	bg := context.Background()
	_, err := di.Resolve[*ioSingl](bg, c)
	require.NoError(t, err)
	_, err = di.Resolve[*ioReq](bg, c)
	require.NoError(t, err)

	err = c.Close(bg)
	require.ErrorIs(t, err, errIO)
	assert.EqualError(t, err, "di: close *di_test.ioSingl: io close failed")
	assert.Equal(t, []string{"ioSingl", "ctxSingl"}, log.list())
	assert.Zero(t, given.closed.Load(), "ProvideValue values are not disposed")
	require.NoError(t, c.Close(bg), "Close is idempotent")
	assert.Len(t, log.list(), 2)

	_, err = di.Resolve[*ioSingl](bg, c)
	require.ErrorIs(t, err, di.ErrContainerClosed)
	assert.EqualError(t, err, "di: container closed: resolve *di_test.ioSingl")
}

func TestRequestSeesRequestAndSingleton(t *testing.T) {
	type (
		user    struct{ scope *di.Scope }
		session struct {
			user   *user
			config *item
		}
	)
	c := di.New()
	require.NoError(t, di.ProvideValue(c, &item{n: 7}))
	require.NoError(t, di.Provide(c, di.Request, func(ctx context.Context) (*user, error) {
		s, ok := di.ScopeFrom(ctx)
		if !ok {
			return nil, errors.New("no scope in a request build")
		}
		return &user{scope: s}, nil
	}))
	require.NoError(t, di.Provide(c, di.Transient, func(ctx context.Context) (*session, error) {
		u, err := di.Resolve[*user](ctx, c)
		if err != nil {
			return nil, err
		}
		cfg, err := di.Resolve[*item](ctx, c)
		return &session{user: u, config: cfg}, err
	}))
	ctx, scope := c.BeginRequest(context.Background())
	defer func() { require.NoError(t, scope.End(ctx)) }()
	s1, err := di.Resolve[*session](ctx, c)
	require.NoError(t, err)
	s2, err := di.Resolve[*session](ctx, c)
	require.NoError(t, err)
	assert.NotSame(t, s1, s2)
	assert.Same(t, s1.user, s2.user)
	assert.Same(t, scope, s1.user.scope)
	assert.Equal(t, 7, s1.config.n)
}

func TestScopeFrom(t *testing.T) {
	c := di.New()
	var inSingleton bool
	require.NoError(t, di.Provide(c, di.Singleton, func(ctx context.Context) (*item, error) {
		_, inSingleton = di.ScopeFrom(ctx)
		return &item{}, nil
	}))
	_, ok := di.ScopeFrom(context.Background())
	assert.False(t, ok)

	ctx, scope := c.BeginRequest(context.Background())
	got, ok := di.ScopeFrom(ctx)
	require.True(t, ok)
	assert.Same(t, scope, got)
	assert.Same(t, c, got.Container())

	_, err := di.Resolve[*item](ctx, c)
	require.NoError(t, err)
	assert.False(t, inSingleton, "a singleton's build sees no request scope")
	require.NoError(t, scope.End(ctx))
}

func TestScopesOfSeveralContainers(t *testing.T) {
	c1, c2 := di.New(), di.New()
	for _, c := range []*di.Container{c1, c2} {
		require.NoError(t, di.Provide(c, di.Request, func(ctx context.Context) (*ctxReq, error) {
			return &ctxReq{probe: newProbe(ctx, nil, "", 0)}, nil
		}))
	}
	ctx1, s1 := c1.BeginRequest(context.Background())
	ctx12, s2 := c2.BeginRequest(ctx1)
	require.NotSame(t, s1, s2, "a scope of another container does not stand in")

	v1, err := di.Resolve[*ctxReq](ctx12, c1)
	require.NoError(t, err)
	v2, err := di.Resolve[*ctxReq](ctx12, c2)
	require.NoError(t, err)
	assert.Same(t, s1, v1.scope, "c1 resolves in its own scope")
	assert.Same(t, s2, v2.scope, "c2 resolves in its own scope")
	w1, err := di.Resolve[*ctxReq](ctx1, c1)
	require.NoError(t, err)
	assert.Same(t, v1, w1)
	_, err = di.Resolve[*ctxReq](ctx1, c2)
	require.ErrorIs(t, err, di.ErrNoRequestScope)

	inner, ok := di.ScopeFrom(ctx12)
	require.True(t, ok)
	assert.Same(t, c2, inner.Container())

	// A nested request of the same container hides the outer one.
	ctxIn, sIn := c1.BeginRequest(ctx12)
	vIn, err := di.Resolve[*ctxReq](ctxIn, c1)
	require.NoError(t, err)
	assert.NotSame(t, v1, vIn)
	v2In, err := di.Resolve[*ctxReq](ctxIn, c2)
	require.NoError(t, err)
	assert.Same(t, v2, v2In)

	bg := context.Background()
	require.NoError(t, sIn.End(bg))
	require.NoError(t, s2.End(bg))
	require.NoError(t, s1.End(bg))
	assert.Equal(t, int32(1), v1.closed.Load())
	assert.Equal(t, int32(1), v2.closed.Load())
	assert.Equal(t, int32(1), vIn.closed.Load())
}

// TestBuildFinishingAfterEnd: a value whose build was in flight when End ran
// is disposed at once and not handed out, and End does not see it.
func TestBuildFinishingAfterEnd(t *testing.T) {
	for _, lt := range []di.Lifetime{di.Request, di.Transient} {
		t.Run(lt.String(), func(t *testing.T) {
			c := di.New()
			started, release := make(chan struct{}), make(chan struct{})
			var built *ioTrans
			require.NoError(t, di.Provide(c, lt, func(context.Context) (*ioTrans, error) {
				close(started)
				<-release
				built = &ioTrans{}
				return built, nil
			}))
			ctx, scope := c.BeginRequest(context.Background())
			done := make(chan error)
			go func() {
				_, err := di.Resolve[*ioTrans](ctx, c)
				done <- err
			}()
			<-started
			require.NoError(t, scope.End(ctx))
			close(release)
			err := <-done
			require.ErrorIs(t, err, di.ErrScopeEnded)
			assert.EqualError(t, err, "di: request scope ended: *di_test.ioTrans built after End")
			assert.Equal(t, int32(1), built.closed.Load())
		})
	}
}

func TestSingletonFinishingAfterClose(t *testing.T) {
	c := di.New()
	started, release := make(chan struct{}), make(chan struct{})
	var built *ioSingl
	require.NoError(t, di.Provide(c, di.Singleton, func(context.Context) (*ioSingl, error) {
		close(started)
		<-release
		built = &ioSingl{}
		return built, nil
	}))
	done := make(chan error)
	go func() {
		_, err := di.Resolve[*ioSingl](context.Background(), c)
		done <- err
	}()
	<-started
	require.NoError(t, c.Close(context.Background()))
	close(release)
	err := <-done
	require.ErrorIs(t, err, di.ErrContainerClosed)
	assert.Equal(t, int32(1), built.closed.Load())
}

// TestWaitersShareOneBuild: concurrent first resolves wait for one build
// and share its error; the failure is not cached.
func TestWaitersShareOneBuild(t *testing.T) {
	for _, lt := range []di.Lifetime{di.Singleton, di.Request} {
		t.Run(lt.String(), func(t *testing.T) {
			const n = 20
			boom := errors.New("boom")
			c := di.New()
			var builds atomic.Int32
			started, release := make(chan struct{}), make(chan struct{})
			require.NoError(t, di.Provide(c, lt, func(context.Context) (*item, error) {
				if builds.Add(1) == 1 {
					close(started)
					<-release
					return nil, boom
				}
				return &item{}, nil
			}))
			reqCtx, scope := c.BeginRequest(context.Background())
			var waiting atomic.Int32
			ctx := waitCtx{Context: reqCtx, waiting: &waiting}
			errs := make(chan error, n)
			for range n {
				go func() {
					_, err := di.Resolve[*item](ctx, c)
					errs <- err
				}()
			}
			<-started
			waitFor(t, func() bool { return waiting.Load() == n-1 })
			close(release)
			for range n {
				err := <-errs
				require.ErrorIs(t, err, boom)
				assert.EqualError(t, err, "di: build *di_test.item: boom")
			}
			assert.Equal(t, int32(1), builds.Load())

			_, err := di.Resolve[*item](ctx, c)
			require.NoError(t, err, "a later resolve retries")
			require.NoError(t, scope.End(reqCtx))
		})
	}
}

func TestWaiterContextCancelled(t *testing.T) {
	c := di.New()
	started, release := make(chan struct{}), make(chan struct{})
	require.NoError(t, di.Provide(c, di.Singleton, func(context.Context) (*item, error) {
		close(started)
		<-release
		return &item{n: 1}, nil
	}))
	done := make(chan *item)
	go func() {
		v, _ := di.Resolve[*item](context.Background(), c)
		done <- v
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := di.Resolve[*item](ctx, c)
	require.ErrorIs(t, err, context.Canceled)
	assert.EqualError(t, err, "di: wait for build of *di_test.item: context canceled")
	close(release)
	assert.Equal(t, 1, (<-done).n, "the build goes on for its own caller")
}

func TestBuildPanicReleasesWaiters(t *testing.T) {
	c := di.New()
	var builds atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	require.NoError(t, di.Provide(c, di.Singleton, func(context.Context) (*item, error) {
		if builds.Add(1) == 1 {
			close(started)
			<-release
			panic("kaboom")
		}
		return &item{}, nil
	}))
	panicked := make(chan any)
	go func() {
		defer func() { panicked <- recover() }()
		_, _ = di.Resolve[*item](context.Background(), c)
	}()
	<-started
	var waiting atomic.Int32
	waiterErr := make(chan error)
	go func() {
		_, err := di.Resolve[*item](waitCtx{Context: context.Background(), waiting: &waiting}, c)
		waiterErr <- err
	}()
	waitFor(t, func() bool { return waiting.Load() == 1 })
	close(release)
	assert.Equal(t, "kaboom", <-panicked, "the panic goes on up the building goroutine")
	assert.EqualError(t, <-waiterErr, "di: build *di_test.item: build func panicked")
	_, err := di.Resolve[*item](context.Background(), c)
	assert.NoError(t, err)
}

// TestCycleAcrossGoroutines: two goroutines each start one end of a cycle
// at the same time; each ends up waiting for the other's build, which the
// chain of one goroutine alone cannot see. It must fail, not deadlock.
func TestCycleAcrossGoroutines(t *testing.T) {
	type (
		left  struct{}
		right struct{}
	)
	c := di.New()
	var barrier sync.WaitGroup
	barrier.Add(2)
	require.NoError(t, di.Provide(c, di.Singleton, func(ctx context.Context) (*left, error) {
		barrier.Done()
		barrier.Wait()
		_, err := di.Resolve[*right](ctx, c)
		return &left{}, err
	}))
	require.NoError(t, di.Provide(c, di.Singleton, func(ctx context.Context) (*right, error) {
		barrier.Done()
		barrier.Wait()
		_, err := di.Resolve[*left](ctx, c)
		return &right{}, err
	}))
	errs := make(chan error, 2)
	go func() { _, err := di.Resolve[*left](context.Background(), c); errs <- err }()
	go func() { _, err := di.Resolve[*right](context.Background(), c); errs <- err }()
	for range 2 {
		select {
		case err := <-errs:
			require.ErrorIs(t, err, di.ErrCycle)
			assert.Regexp(t, `di: dependency cycle: \*di_test\.(left|right) -> \*di_test\.(left|right) -> \*di_test\.(left|right)$`, err.Error())
		case <-time.After(5 * time.Second):
			t.Fatal("deadlock: a cycle across goroutines was not detected")
		}
	}
}

// slot[K] makes distinct request types for TestManyRequestTypes.
type slot[K any] struct{ scope *di.Scope }

func provideSlot[K any](t *testing.T, c *di.Container) func(context.Context) (*di.Scope, error) {
	require.NoError(t, di.Provide(c, di.Request, func(ctx context.Context) (*slot[K], error) {
		s, _ := di.ScopeFrom(ctx)
		return &slot[K]{scope: s}, nil
	}))
	return func(ctx context.Context) (*di.Scope, error) {
		v, err := di.Resolve[*slot[K]](ctx, c)
		if err != nil {
			return nil, err
		}
		return v.scope, nil
	}
}

// TestManyRequestTypes covers scopes holding more request types than the
// short list they start with.
func TestManyRequestTypes(t *testing.T) {
	c := di.New()
	resolvers := []func(context.Context) (*di.Scope, error){
		provideSlot[[1]int](t, c), provideSlot[[2]int](t, c), provideSlot[[3]int](t, c),
		provideSlot[[4]int](t, c), provideSlot[[5]int](t, c), provideSlot[[6]int](t, c),
		provideSlot[[7]int](t, c), provideSlot[[8]int](t, c), provideSlot[[9]int](t, c),
		provideSlot[[10]int](t, c), provideSlot[[11]int](t, c), provideSlot[[12]int](t, c),
	}
	ctx, scope := c.BeginRequest(context.Background())
	for range 2 {
		for i, resolve := range resolvers {
			s, err := resolve(ctx)
			require.NoError(t, err, "type %d", i)
			assert.Same(t, scope, s)
		}
	}
	require.NoError(t, scope.End(ctx))
	_, err := resolvers[11](ctx)
	require.ErrorIs(t, err, di.ErrScopeEnded)
	assert.EqualError(t, err, "di: request scope ended: resolve *di_test.slot[[12]int]")
}
