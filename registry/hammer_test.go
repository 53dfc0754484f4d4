package registry_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/registry"
)

// Hammer tests run P goroutines × N operations against one Registry. They
// assert behaviour themselves and, under -race, let the race detector check
// the locking.

// hammer runs fn(g) on p goroutines released together, and waits for them.
func hammer(p int, fn func(g int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range p {
		wg.Go(func() {
			<-start
			fn(g)
		})
	}
	close(start)
	wg.Wait()
}

// TestHammerRegister registers 50 × 100 unique names concurrently while
// every goroutine also races for one shared name.
func TestHammerRegister(t *testing.T) {
	t.Parallel()
	const P, N = 50, 100
	r := registry.New()
	registered := make([][]*fakeFactory, P)
	var sharedWins atomic.Int64
	errs := make(chan error, P*(N+1))

	hammer(P, func(g int) {
		for i := range N {
			// 10 bases per goroutine, 10 versions each, one unversioned.
			name := fmt.Sprintf("G%02d-m%d@1.%d.0", g, i%10, i/10)
			if i/10 == 0 {
				name = fmt.Sprintf("G%02d-m%d", g, i%10)
			}
			f := newFake(strings.ToLower(name))
			if err := r.Register(name, f); err != nil {
				errs <- err
				continue
			}
			registered[g] = append(registered[g], f)
			if got, err := r.Lookup(name); err != nil || got != f {
				errs <- fmt.Errorf("lookup %q after register: %v, %v", name, got, err)
			}
			if i == N/2 {
				switch err := r.Register("shared", newFake("shared")); {
				case err == nil:
					sharedWins.Add(1)
				case !errors.Is(err, registry.ErrAlreadyRegistered):
					errs <- err
				}
			}
		}
	})
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}

	assert.Equal(t, int64(1), sharedWins.Load(), "exactly one Register of a shared name wins")
	require.Equal(t, P*N+1, r.Len())
	names := r.Names()
	require.Len(t, names, P*N+1)

	var want []string
	for g := range P {
		require.Len(t, registered[g], N)
		for b := range 10 {
			base := fmt.Sprintf("g%02d-m%d", g, b)
			want = append(want, base)
			for v := 1; v < 10; v++ {
				want = append(want, fmt.Sprintf("%s@1.%d.0", base, v))
			}
			// The bare name finds the highest of the ten.
			got, err := r.Lookup(base)
			require.NoError(t, err)
			assert.Equal(t, base+"@1.9.0", factoryOf(t, got).name)
		}
	}
	want = append(want, "shared")
	assert.Equal(t, want, names)
	for g := range P {
		for _, f := range registered[g] {
			if !strings.Contains(f.name, "@") {
				continue // an unversioned name is shadowed by its versions
			}
			got, err := r.Lookup(f.name)
			require.NoError(t, err)
			assert.Same(t, f, got, f.name)
		}
	}
}

// TestHammerBuild runs 100 builds across 5 factories at once. The factories
// hold every build until all 100 have started, so the test passes only if
// builds really run concurrently; a lock held across Factory.Build makes it
// fail on the context deadline instead of hanging.
func TestHammerBuild(t *testing.T) {
	t.Parallel()
	const P, F = 100, 5
	r := registry.New()
	started := make(chan struct{}, P)
	gate := make(chan struct{})
	factories := make([]*fakeFactory, F)
	for i := range F {
		factories[i] = newFake(fmt.Sprintf("model-%d@1.0.%d", i, i))
		factories[i].started = started
		factories[i].gate = gate
		require.NoError(t, r.Register(factories[i].name, factories[i]))
	}
	go func() {
		for range P {
			<-started
		}
		close(gate)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	models := make([]registry.Model, P)
	errs := make([]error, P)
	hammer(P, func(g int) {
		name := fmt.Sprintf("model-%d", g%F) // bare: resolves to the one version
		models[g], errs[g] = r.Build(ctx, name, fmt.Appendf(nil, "build-%d", g))
	})

	for g := range P {
		require.NoError(t, errs[g], "build %d (did builds serialise?)", g)
		m := models[g].(*fakeModel)
		assert.Equal(t, factories[g%F].id, m.factoryID, "build %d", g)
		assert.Equal(t, fmt.Sprintf("build-%d", g), m.config)
	}
	for _, f := range factories {
		assert.Equal(t, int64(P/F), f.builds.Load(), f.name)
	}
}

// TestHammerMixed registers, replaces, unregisters, looks up and builds a
// small set of names from 50 goroutines at once. Every build checks that the
// model it got was built by a factory registered under a matching name, and
// that this factory is the one its build started on (the factory records
// each build's unique config when Build starts; the model records the
// factory that finished it).
func TestHammerMixed(t *testing.T) {
	t.Parallel()
	const P, N = 50, 100
	bases := []string{"a", "b", "c"}
	versions := []string{"", "@1.0.0", "@2.0.0-rc.1", "@2.0.0"}

	r := registry.New()
	var factories sync.Map // id -> *fakeFactory, every factory ever offered to r
	var retired sync.Map   // id -> struct{}, factories replaced or unregistered
	newFactory := func(name string) *fakeFactory {
		f := newFake(name)
		f.yield = 3 // give writers a chance to run mid-build
		factories.Store(f.id, f)
		return f
	}
	var builds, onRetired atomic.Int64
	errs := make(chan error, P*N)

	hammer(P, func(g int) {
		rng := rand.New(rand.NewPCG(uint64(g), 42))
		ctx := context.Background()
		for i := range N {
			base := bases[rng.IntN(len(bases))]
			name := base + versions[rng.IntN(len(versions))]
			if rng.IntN(2) == 0 {
				name = strings.ToUpper(name)
			}
			lname := strings.ToLower(name)
			switch op := rng.IntN(10); {
			case op < 2:
				if err := r.Register(name, newFactory(lname)); err != nil && !errors.Is(err, registry.ErrAlreadyRegistered) {
					errs <- err
				}
			case op < 4:
				old, _ := r.Lookup(lname)
				if err := r.Replace(name, newFactory(lname)); err != nil {
					errs <- err
				}
				if old, ok := old.(*fakeFactory); ok && old.name == lname {
					retired.Store(old.id, struct{}{})
				}
			case op < 5:
				old, _ := r.Lookup(lname)
				if err := r.Unregister(name); err != nil && !errors.Is(err, registry.ErrNotFound) {
					errs <- err
				}
				if old, ok := old.(*fakeFactory); ok && old.name == lname {
					retired.Store(old.id, struct{}{})
				}
			case op < 7:
				f, err := r.Lookup(name)
				if err != nil {
					if !errors.Is(err, registry.ErrNotFound) {
						errs <- err
					}
					continue
				}
				if err := checkResolved(f.(*fakeFactory).name, lname); err != nil {
					errs <- fmt.Errorf("lookup: %w", err)
				}
			default:
				token := fmt.Sprintf("g%d-i%d", g, i)
				m, err := r.Build(ctx, name, []byte(token))
				if err != nil {
					if !errors.Is(err, registry.ErrNotFound) {
						errs <- err
					}
					continue
				}
				builds.Add(1)
				fm := m.(*fakeModel)
				v, ok := factories.Load(fm.factoryID)
				if !ok {
					errs <- fmt.Errorf("build %s: model from unknown factory #%d", token, fm.factoryID)
					continue
				}
				f := v.(*fakeFactory)
				if fm.config != token {
					errs <- fmt.Errorf("build %s: model has config %q", token, fm.config)
				}
				if _, ok := f.tokens.Load(token); !ok {
					errs <- fmt.Errorf("build %s: finished on factory #%d, which it did not start on", token, f.id)
				}
				if err := checkResolved(f.name, lname); err != nil {
					errs <- fmt.Errorf("build %s: %w", token, err)
				}
				if _, ok := retired.Load(f.id); ok {
					onRetired.Add(1)
				}
			}
		}
	})
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	t.Logf("%d builds, %d finished on a factory that was replaced or unregistered by then", builds.Load(), onRetired.Load())
	require.Positive(t, builds.Load())

	// The registry's three views still agree.
	names := r.Names()
	assert.Equal(t, len(names), r.Len())
	assert.True(t, slices.IsSortedFunc(names, func(a, b string) int {
		return compareForTest(t, a, b)
	}), "names out of order: %v", names)
	assert.Equal(t, len(names), len(slices.Compact(slices.Clone(names))), "duplicate names: %v", names)
	for _, name := range names {
		f, err := r.Lookup(name)
		require.NoError(t, err, name)
		if strings.Contains(name, "@") {
			assert.Equal(t, name, factoryOf(t, f).name)
		}
	}
	for _, base := range bases {
		var last string
		for _, name := range names {
			if b, _, _ := strings.Cut(name, "@"); b == base {
				last = name
			}
		}
		f, err := r.Lookup(base)
		if last == "" {
			assert.ErrorIs(t, err, registry.ErrNotFound, base)
			continue
		}
		require.NoError(t, err, base)
		assert.Equal(t, last, factoryOf(t, f).name, "bare %q resolves to the last of its names", base)
	}
}

// checkResolved reports whether a factory registered under got may answer a
// query for want: the same name if want is versioned, the same base if not.
func checkResolved(got, want string) error {
	if strings.Contains(want, "@") {
		if got != want {
			return fmt.Errorf("%q resolved to a factory registered as %q", want, got)
		}
		return nil
	}
	if base, _, _ := strings.Cut(got, "@"); base != want {
		return fmt.Errorf("%q resolved to a factory registered as %q", want, got)
	}
	return nil
}

// compareForTest orders names as Names documents, using only ParseName and
// an independent version comparison, so the hammer checks Names rather than
// reusing its code.
func compareForTest(t *testing.T, a, b string) int {
	ab, av, err := registry.ParseName(a)
	require.NoError(t, err)
	bb, bv, err := registry.ParseName(b)
	require.NoError(t, err)
	if c := strings.Compare(ab, bb); c != 0 {
		return c
	}
	rank := map[string]int{"": 0, "1.0.0": 1, "2.0.0-rc.1": 2, "2.0.0": 3}
	ra, oka := rank[av]
	rb, okb := rank[bv]
	require.True(t, oka && okb, "unexpected versions %q, %q", av, bv)
	return ra - rb
}
