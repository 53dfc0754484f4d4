package di_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/di"
)

// TestHammerRequests runs P goroutines × N requests each; every request
// resolves its request value from several goroutines at once and must get
// exactly one instance, built for that request and no other, disposed
// exactly once at End.
func TestHammerRequests(t *testing.T) {
	const (
		P         = 50  // concurrent request loops
		N         = 100 // requests per loop
		resolvers = 4   // goroutines per request
	)
	c := di.New()
	var singletons, requests, transients atomic.Int32
	require.NoError(t, di.Provide(c, di.Singleton, func(context.Context) (*ctxSingl, error) {
		singletons.Add(1)
		return &ctxSingl{}, nil
	}))
	require.NoError(t, di.Provide(c, di.Request, func(ctx context.Context) (*ctxReq, error) {
		if _, err := di.Resolve[*ctxSingl](ctx, c); err != nil {
			return nil, err
		}
		return &ctxReq{probe: newProbe(ctx, nil, "req", requests.Add(1))}, nil
	}))
	require.NoError(t, di.Provide(c, di.Transient, func(ctx context.Context) (*ioTrans, error) {
		if _, err := di.Resolve[*ctxReq](ctx, c); err != nil {
			return nil, err
		}
		return &ioTrans{probe: newProbe(ctx, nil, "trans", transients.Add(1))}, nil
	}))

	var failures atomic.Int32
	fail := func(format string, args ...any) {
		failures.Add(1)
		t.Errorf(format, args...)
	}
	var loops sync.WaitGroup
	for p := range P {
		loops.Go(func() {
			for i := range N {
				id := p*N + i
				ctx, scope := c.BeginRequest(context.WithValue(context.Background(), reqIDKey{}, id))
				got := make([]*ctxReq, resolvers)
				trans := make([]*ioTrans, resolvers)
				var wg sync.WaitGroup
				for g := range resolvers {
					wg.Go(func() {
						for range 3 {
							v, err := di.Resolve[*ctxReq](ctx, c)
							if err != nil {
								fail("request %d: %v", id, err)
								return
							}
							if got[g] != nil && got[g] != v {
								fail("request %d: two instances in one goroutine", id)
							}
							got[g] = v
						}
						tr, err := di.Resolve[*ioTrans](ctx, c)
						if err != nil {
							fail("request %d: %v", id, err)
							return
						}
						trans[g] = tr
					})
				}
				wg.Wait()
				for _, v := range got {
					if v == nil || v != got[0] {
						fail("request %d: not exactly one instance", id)
						continue
					}
				}
				inst := got[0]
				if inst != nil && (inst.reqID != id || inst.scope != scope) {
					fail("request %d (scope %p) got an instance built for request %v (scope %p)", id, scope, inst.reqID, inst.scope)
				}
				if err := scope.End(ctx); err != nil {
					fail("request %d: End: %v", id, err)
				}
				if inst != nil && inst.closed.Load() != 1 {
					fail("request %d: instance closed %d times", id, inst.closed.Load())
				}
				for _, tr := range trans {
					if tr != nil && tr.closed.Load() != 1 {
						fail("request %d: transient closed %d times", id, tr.closed.Load())
					}
				}
				if failures.Load() > 10 {
					return
				}
			}
		})
	}
	loops.Wait()
	assert.Equal(t, int32(1), singletons.Load())
	assert.Equal(t, int32(P*N), requests.Load(), "one request value per request")
	assert.Equal(t, int32(P*N*resolvers), transients.Load())
}

// TestLongRequestSurvivesOthers is the regression test for the design this
// package replaces, whose single request cache was cleared by every
// begin_request: a long-lived request must keep its instance, undisposed,
// while many other requests begin and end around it.
func TestLongRequestSurvivesOthers(t *testing.T) {
	const (
		P = 32  // goroutines beginning and ending requests
		N = 200 // requests each
	)
	c := di.New()
	require.NoError(t, di.Provide(c, di.Request, func(ctx context.Context) (*ctxReq, error) {
		return &ctxReq{probe: newProbe(ctx, nil, "req", 0)}, nil
	}))
	bg := context.Background()
	longCtx, longScope := c.BeginRequest(bg)
	first, err := di.Resolve[*ctxReq](longCtx, c)
	require.NoError(t, err)

	stop := make(chan struct{})
	var long sync.WaitGroup
	var checks, mismatches atomic.Int32
	long.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			v, err := di.Resolve[*ctxReq](longCtx, c)
			checks.Add(1)
			if err != nil || v != first || v.closed.Load() != 0 {
				mismatches.Add(1)
			}
		}
	})

	var others sync.WaitGroup
	for range P {
		others.Go(func() {
			for range N {
				ctx, scope := c.BeginRequest(bg)
				v, err := di.Resolve[*ctxReq](ctx, c)
				if assert.NoError(t, err) {
					assert.NotSame(t, first, v)
				}
				assert.NoError(t, scope.End(ctx))
			}
		})
	}
	others.Wait()
	close(stop)
	long.Wait()

	assert.Positive(t, checks.Load())
	assert.Zero(t, mismatches.Load(), "the long request lost or saw its instance disposed")
	again, err := di.Resolve[*ctxReq](longCtx, c)
	require.NoError(t, err)
	assert.Same(t, first, again)
	assert.Zero(t, first.closed.Load())
	require.NoError(t, longScope.End(bg))
	assert.Equal(t, int32(1), first.closed.Load())
}

// TestConcurrentFirstResolve: many goroutines resolving a value that does
// not exist yet, all at once, build it exactly once.
func TestConcurrentFirstResolve(t *testing.T) {
	tests := []struct {
		name string
		lt   di.Lifetime
		n    int
	}{
		{"singleton", di.Singleton, 100},
		{"request", di.Request, 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := di.New()
			var builds atomic.Int32
			started, release := make(chan struct{}), make(chan struct{})
			require.NoError(t, di.Provide(c, tc.lt, func(context.Context) (*item, error) {
				builds.Add(1)
				close(started)
				<-release
				return &item{}, nil
			}))
			reqCtx, scope := c.BeginRequest(context.Background())
			var waiting atomic.Int32
			ctx := waitCtx{Context: reqCtx, waiting: &waiting}
			got := make([]*item, tc.n)
			var wg sync.WaitGroup
			for i := range tc.n {
				wg.Go(func() {
					v, err := di.Resolve[*item](ctx, c)
					assert.NoError(t, err)
					got[i] = v
				})
			}
			<-started
			// Hold the build until every other goroutine waits for it.
			waitFor(t, func() bool { return waiting.Load() == int32(tc.n-1) })
			close(release)
			wg.Wait()
			assert.Equal(t, int32(1), builds.Load())
			for _, v := range got {
				require.NotNil(t, v)
				assert.Same(t, got[0], v)
			}
			require.NoError(t, scope.End(reqCtx))
		})
	}
}

// TestHammerResolveRacingEnd ends requests while their goroutines are still
// resolving: whatever was built, End or the late build disposes it exactly
// once, and no resolve gets a value that End missed.
func TestHammerResolveRacingEnd(t *testing.T) {
	const (
		requests  = 300
		resolvers = 4
	)
	c := di.New()
	var mu sync.Mutex // guards built
	var built []*ioTrans
	record := func(v *ioTrans) *ioTrans {
		mu.Lock()
		defer mu.Unlock()
		built = append(built, v)
		return v
	}
	require.NoError(t, di.Provide(c, di.Request, func(context.Context) (*ctxReq, error) { return &ctxReq{}, nil }))
	require.NoError(t, di.Provide(c, di.Transient, func(ctx context.Context) (*ioTrans, error) {
		if _, err := di.Resolve[*ctxReq](ctx, c); err != nil {
			return nil, err
		}
		return record(&ioTrans{}), nil
	}))
	var handedOut atomic.Int32
	var wg sync.WaitGroup
	for range requests {
		ctx, scope := c.BeginRequest(context.Background())
		for range resolvers {
			wg.Go(func() {
				for range 5 {
					_, err := di.Resolve[*ioTrans](ctx, c)
					if err != nil {
						assert.ErrorIs(t, err, di.ErrScopeEnded)
						return
					}
					handedOut.Add(1)
				}
			})
		}
		wg.Go(func() { assert.NoError(t, scope.End(ctx)) })
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	assert.GreaterOrEqual(t, len(built), int(handedOut.Load()))
	for i, v := range built {
		assert.Equal(t, int32(1), v.closed.Load(), "value %d closed %d times", i, v.closed.Load())
	}
}
