package registry_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/registry"
)

// waitTimeout bounds every wait in these tests, so that a regression (a lock
// held across Factory.Build, say) fails the test instead of hanging it.
const waitTimeout = 5 * time.Second

// factoryIDs numbers fake factories, so that a model can say which factory
// instance built it.
var factoryIDs atomic.Int64

// fakeFactory is a Factory whose models record which factory built them. It
// is safe for concurrent use by multiple goroutines.
type fakeFactory struct {
	id   int64  // unique per instance
	name string // the name the test registers it under

	err     error         // if set, Build fails with it
	nilOK   bool          // if set, Build returns (nil, nil)
	started chan struct{} // if set, Build sends on it when it starts
	gate    chan struct{} // if set, Build waits for it to close, or for ctx
	yield   int           // runtime.Gosched calls inside Build, to widen races

	tokens sync.Map     // configs of the builds that started on this instance
	builds atomic.Int64 // builds that finished
}

func newFake(name string) *fakeFactory {
	return &fakeFactory{id: factoryIDs.Add(1), name: name}
}

func (f *fakeFactory) Info() registry.Info {
	base, version, _ := registry.ParseName(f.name)
	return registry.Info{Name: base, Version: version, Description: "fake " + f.name}
}

func (f *fakeFactory) Build(ctx context.Context, config []byte) (registry.Model, error) {
	f.tokens.Store(string(config), struct{}{})
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for range f.yield {
		runtime.Gosched()
	}
	defer f.builds.Add(1)
	switch {
	case f.err != nil:
		return nil, f.err
	case f.nilOK:
		return nil, nil
	}
	return &fakeModel{factoryID: f.id, factoryName: f.name, config: string(config)}, nil
}

// fakeModel answers Predict with the identity of the factory that built it.
type fakeModel struct {
	factoryID   int64
	factoryName string
	config      string
	closed      atomic.Bool
}

func (m *fakeModel) Predict(_ context.Context, input []byte) ([]byte, error) {
	return fmt.Appendf(nil, "%s#%d(%s): %s", m.factoryName, m.factoryID, m.config, input), nil
}

func (m *fakeModel) Close(context.Context) error {
	m.closed.Store(true)
	return nil
}

// buildErr is a typed factory error, to check that errors.As sees through
// the registry's wrapping.
type buildErr struct{ reason string }

func (e *buildErr) Error() string { return "fake: " + e.reason }

// recv returns the next value from ch, failing the test after waitTimeout.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		panic("unreachable")
	}
}

// factoryOf returns the fake behind f, failing the test if it is not one.
func factoryOf(t *testing.T, f registry.Factory) *fakeFactory {
	t.Helper()
	ff, ok := f.(*fakeFactory)
	require.Truef(t, ok, "factory is %T, want *fakeFactory", f)
	return ff
}

func TestParseName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", registry.MaxBaseNameLen)

	valid := []struct {
		name, in, base, version string
	}{
		{"bare", "mlp", "mlp", ""},
		{"one char", "a", "a", ""},
		{"digits only", "0", "0", ""},
		{"all allowed punctuation", "a.b_c-d", "a.b_c-d", ""},
		{"upper case is lowered", "MLP", "mlp", ""},
		{"mixed case", "MlP.Net_2-X", "mlp.net_2-x", ""},
		{"versioned", "mlp@1.2.0", "mlp", "1.2.0"},
		{"zero version", "mlp@0.0.0", "mlp", "0.0.0"},
		{"prerelease", "mlp@1.0.0-rc.1", "mlp", "1.0.0-rc.1"},
		{"prerelease with hyphens", "mlp@1.0.0-alpha-1.2", "mlp", "1.0.0-alpha-1.2"},
		{"upper-case prerelease is lowered", "MLP@1.0.0-RC.1", "mlp", "1.0.0-rc.1"},
		{"base of 128", long, long, ""},
		{"base of 128 with version beyond 128", long + "@1.2.3-beta.4", long, "1.2.3-beta.4"},
	}
	for _, tc := range valid {
		t.Run("valid/"+tc.name, func(t *testing.T) {
			base, version, err := registry.ParseName(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.base, base)
			assert.Equal(t, tc.version, version)

			// The registry accepts what ParseName accepts, under the lower-case name.
			r := registry.New()
			f := newFake(tc.in)
			require.NoError(t, r.Register(tc.in, f))
			want := base
			if version != "" {
				want += "@" + version
			}
			assert.Equal(t, []string{want}, r.Names())
			got, err := r.Lookup(tc.in)
			require.NoError(t, err)
			assert.Same(t, f, got)
		})
	}

	invalid := []struct {
		name, in, why string
	}{
		{"empty", "", "empty name"},
		{"empty base", "@1.0.0", "empty base name"},
		{"base of 129", long + "a", "129 bytes, more than 128"},
		{"base of 129 with version", long + "a@1.0.0", "129 bytes, more than 128"},
		{"space", "ml p", `' ' at byte 2`},
		{"slash", "org/mlp", `'/' at byte 3`},
		{"colon", "mlp:1", `':' at byte 3`},
		{"plus", "mlp+x", `'+' at byte 3`},
		{"NUL", "mlp\x00", `'\x00' at byte 3`},
		{"non-ASCII letter", "mlé", `'é' at byte 2`},
		{"Kelvin sign that lowers to k", "\u212Aelvin", "'\u212A' at byte 0"},
		{"empty version", "mlp@", `empty version after "@"`},
		{"two @", "mlp@1.0.0@2.0.0", `more than one "@"`},
		{"v prefix", "mlp@v1.2.0", `starts with "v"; write "1.2.0"`},
		{"V prefix", "mlp@V1.2.0", `starts with "V"; write "1.2.0"`},
		{"v prefix, short", "mlp@v1.0", `starts with "v"; write "1.0.0"`},
		{"v prefix, major only", "mlp@v2", `starts with "v"; write "2.0.0"`},
		{"short version", "mlp@1.0", `version "1.0" is not a strict semantic version MAJOR.MINOR.PATCH[-PRERELEASE] (invalid semantic version); write "1.0.0"`},
		{"short pre-release", "mlp@1-rc.1", `write "1.0.0-rc.1"`},
		{"two parts", "mlp@1.2", "not a strict semantic version"},
		{"one part", "mlp@1", "not a strict semantic version"},
		{"leading zero", "mlp@01.2.0", "not a strict semantic version"},
		{"wildcard", "mlp@1.2.x", "not a strict semantic version"},
		{"empty prerelease", "mlp@1.2.0-", "not a strict semantic version"},
		{"space in version", "mlp@ 1.2.0", "not a strict semantic version"},
		{"build metadata", "mlp@1.2.0+build.5", "build metadata"},
	}
	for _, tc := range invalid {
		t.Run("invalid/"+tc.name, func(t *testing.T) {
			_, _, err := registry.ParseName(tc.in)
			require.ErrorIs(t, err, registry.ErrInvalidName)
			assert.Contains(t, err.Error(), tc.why)
			prefix := fmt.Sprintf("registry: invalid name %q: ", tc.in)
			if tc.in == "" {
				prefix = "registry: invalid name: "
			}
			assert.True(t, strings.HasPrefix(err.Error(), prefix), err.Error())

			// Every method that takes a name rejects it the same way, and
			// none of them registers it.
			r := registry.New()
			ops := map[string]func() error{
				"register":   func() error { return r.Register(tc.in, newFake(tc.in)) },
				"replace":    func() error { return r.Replace(tc.in, newFake(tc.in)) },
				"unregister": func() error { return r.Unregister(tc.in) },
				"lookup":     func() error { _, err := r.Lookup(tc.in); return err },
				"resolve":    func() error { _, _, err := r.Resolve(tc.in); return err },
				"build":      func() error { _, err := r.Build(context.Background(), tc.in, nil); return err },
			}
			for op, call := range ops {
				err := call()
				require.ErrorIs(t, err, registry.ErrInvalidName, op)
				assert.NotErrorIs(t, err, registry.ErrNotFound, op)
				assert.Contains(t, err.Error(), fmt.Sprintf("registry: %s %q: registry: invalid name: ", op, tc.in), op)
				assert.Contains(t, err.Error(), tc.why, op)
			}
			assert.Zero(t, r.Len())
		})
	}

	t.Run("semver cause is wrapped", func(t *testing.T) {
		_, _, err := registry.ParseName("mlp@1.2")
		assert.ErrorIs(t, err, registry.ErrInvalidName)
		assert.ErrorIs(t, err, semver.ErrInvalidSemVer)
	})
}

func TestCaseInsensitive(t *testing.T) {
	t.Parallel()
	r := registry.New()
	f := newFake("MLP@1.0.0")
	require.NoError(t, r.Register("MLP@1.0.0", f))
	assert.Equal(t, []string{"mlp@1.0.0"}, r.Names())

	for _, name := range []string{"mlp", "MLP", "Mlp", "mlp@1.0.0", "MLP@1.0.0", "mLp@1.0.0"} {
		got, err := r.Lookup(name)
		require.NoError(t, err, name)
		assert.Same(t, f, got, name)
		full, _, err := r.Resolve(name)
		require.NoError(t, err, name)
		assert.Equal(t, "mlp@1.0.0", full, name)
	}
	m, err := r.Build(context.Background(), "MlP", nil)
	require.NoError(t, err)
	assert.Equal(t, f.id, m.(*fakeModel).factoryID)

	err = r.Register("mlp@1.0.0", newFake("mlp@1.0.0"))
	assert.ErrorIs(t, err, registry.ErrAlreadyRegistered, "names differing only in case are the same name")
	require.NoError(t, r.Unregister("mLP@1.0.0"))
	assert.Zero(t, r.Len())
}

func TestResolution(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		registered []string
		query      string
		want       string // the full name the query resolves to; "" for ErrNotFound
	}{
		{"unversioned only", []string{"mlp"}, "mlp", "mlp"},
		{"versioned beats unversioned", []string{"mlp", "mlp@0.0.1"}, "mlp", "mlp@0.0.1"},
		{"versioned beats unversioned whatever the order", []string{"mlp@0.0.1", "mlp"}, "mlp", "mlp@0.0.1"},
		{"highest version", []string{"mlp@1.2.0", "mlp@1.10.0", "mlp@1.9.0"}, "mlp", "mlp@1.10.0"},
		{"major beats minor", []string{"mlp@2.0.0", "mlp@1.99.99"}, "mlp", "mlp@2.0.0"},
		{"prerelease above lower release", []string{"mlp@1.0.0", "mlp@2.0.0-rc.1"}, "mlp", "mlp@2.0.0-rc.1"},
		{"release above its prerelease", []string{"mlp@2.0.0-rc.1", "mlp@2.0.0", "mlp@2.0.0-beta"}, "mlp", "mlp@2.0.0"},
		{"prerelease numbers compare numerically", []string{"mlp@1.0.0-rc.10", "mlp@1.0.0-rc.2"}, "mlp", "mlp@1.0.0-rc.10"},
		{"prerelease identifiers compare lexically", []string{"mlp@1.0.0-beta", "mlp@1.0.0-alpha"}, "mlp", "mlp@1.0.0-beta"},
		{"exact lower version", []string{"mlp@1.2.0", "mlp@2.0.0"}, "mlp@1.2.0", "mlp@1.2.0"},
		{"exact prerelease", []string{"mlp@2.0.0-rc.1", "mlp@2.0.0"}, "mlp@2.0.0-rc.1", "mlp@2.0.0-rc.1"},
		{"exact unknown version", []string{"mlp@1.2.0", "mlp"}, "mlp@1.2.1", ""},
		{"exact version of unversioned", []string{"mlp"}, "mlp@1.0.0", ""},
		{"unknown base", []string{"mlp@1.0.0"}, "cnn", ""},
		{"bases do not mix", []string{"mlp-small@9.0.0", "mlp@1.0.0", "mlp.v2@3.0.0"}, "mlp", "mlp@1.0.0"},
		{"prefix of a base is not a base", []string{"mlp-small@9.0.0"}, "mlp", ""},
		{"empty registry", nil, "mlp", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := registry.New()
			factories := map[string]*fakeFactory{}
			for _, name := range tc.registered {
				factories[name] = newFake(name)
				require.NoError(t, r.Register(name, factories[name]))
			}

			got, err := r.Lookup(tc.query)
			full, resolved, rerr := r.Resolve(tc.query)
			if tc.want == "" {
				require.ErrorIs(t, err, registry.ErrNotFound)
				assert.EqualError(t, err, fmt.Sprintf("registry: lookup %q: registry: factory not found", tc.query))
				assert.Nil(t, got)
				require.ErrorIs(t, rerr, registry.ErrNotFound)
				assert.Empty(t, full)
				return
			}
			require.NoError(t, err)
			assert.Same(t, factories[tc.want], got)
			require.NoError(t, rerr)
			assert.Equal(t, tc.want, full)
			assert.Same(t, factories[tc.want], resolved)
		})
	}
}

func TestRegister(t *testing.T) {
	t.Parallel()

	t.Run("duplicate is refused, never overwritten", func(t *testing.T) {
		r := registry.New()
		first := newFake("mlp@1.0.0")
		require.NoError(t, r.Register("mlp@1.0.0", first))
		err := r.Register("MLP@1.0.0", newFake("MLP@1.0.0"))
		require.ErrorIs(t, err, registry.ErrAlreadyRegistered)
		assert.EqualError(t, err, `registry: register "MLP@1.0.0": registry: name already registered`)
		got, err := r.Lookup("mlp@1.0.0")
		require.NoError(t, err)
		assert.Same(t, first, got)
		assert.Equal(t, 1, r.Len())
	})

	t.Run("versions and the unversioned name are distinct", func(t *testing.T) {
		r := registry.New()
		for _, name := range []string{"mlp", "mlp@1.0.0", "mlp@1.0.0-rc.1", "mlp@1.0.1"} {
			require.NoError(t, r.Register(name, newFake(name)), name)
		}
		assert.Equal(t, 4, r.Len())
	})

	t.Run("nil factory", func(t *testing.T) {
		r := registry.New()
		err := r.Register("mlp", nil)
		require.ErrorIs(t, err, registry.ErrNilFactory)
		assert.EqualError(t, err, `registry: register "mlp": registry: nil factory`)
		assert.Zero(t, r.Len())
	})

	t.Run("zero value is usable", func(t *testing.T) {
		var r registry.Registry
		_, err := r.Lookup("mlp")
		require.ErrorIs(t, err, registry.ErrNotFound)
		require.ErrorIs(t, r.Unregister("mlp"), registry.ErrNotFound)
		assert.Empty(t, r.Names())
		f := newFake("mlp")
		require.NoError(t, r.Register("mlp", f))
		got, err := r.Lookup("mlp")
		require.NoError(t, err)
		assert.Same(t, f, got)
	})
}

func TestReplace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		registered []string
		replace    string
		query      string
		want       string // the old factory query finds afterwards; "" for the new one
		wantNames  []string
	}{
		{"absent name is registered", nil, "mlp@1.0.0", "mlp", "", []string{"mlp@1.0.0"}},
		{"present name is swapped", []string{"mlp@1.0.0"}, "mlp@1.0.0", "mlp@1.0.0", "", []string{"mlp@1.0.0"}},
		{"highest version is swapped for bare lookups", []string{"mlp@1.0.0", "mlp@2.0.0"}, "MLP@2.0.0", "mlp", "", []string{"mlp@1.0.0", "mlp@2.0.0"}},
		{"lower version is swapped for exact lookups", []string{"mlp@1.0.0", "mlp@2.0.0"}, "mlp@1.0.0", "mlp@1.0.0", "", []string{"mlp@1.0.0", "mlp@2.0.0"}},
		{"lower version leaves bare lookups alone", []string{"mlp@1.0.0", "mlp@2.0.0"}, "mlp@1.0.0", "mlp", "mlp@2.0.0", []string{"mlp@1.0.0", "mlp@2.0.0"}},
		{"unversioned stays below versions", []string{"mlp", "mlp@1.0.0"}, "mlp", "mlp", "mlp@1.0.0", []string{"mlp", "mlp@1.0.0"}},
		{"unversioned alone is swapped", []string{"mlp", "cnn@1.0.0"}, "mlp", "mlp", "", []string{"cnn@1.0.0", "mlp"}},
		{"new higher version becomes latest", []string{"mlp@1.0.0"}, "mlp@1.1.0", "mlp", "", []string{"mlp@1.0.0", "mlp@1.1.0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := registry.New()
			old := map[string]*fakeFactory{}
			for _, name := range tc.registered {
				old[name] = newFake(name)
				require.NoError(t, r.Register(name, old[name]))
			}
			f := newFake(tc.replace)
			require.NoError(t, r.Replace(tc.replace, f))
			assert.Equal(t, tc.wantNames, r.Names())
			assert.Equal(t, len(tc.wantNames), r.Len())

			got, err := r.Lookup(tc.query)
			require.NoError(t, err)
			if tc.want == "" {
				assert.Same(t, f, got)
			} else {
				assert.Same(t, old[tc.want], got)
			}
			// Other entries keep their factories.
			for name, o := range old {
				if strings.Contains(name, "@") && !strings.EqualFold(name, tc.replace) {
					got, err := r.Lookup(name)
					require.NoError(t, err)
					assert.Same(t, o, got, name)
				}
			}
		})
	}

	t.Run("shadowed unversioned swap shows once versions go", func(t *testing.T) {
		r := registry.New()
		require.NoError(t, r.Register("mlp", newFake("mlp")))
		require.NoError(t, r.Register("mlp@1.0.0", newFake("mlp@1.0.0")))
		f := newFake("mlp")
		require.NoError(t, r.Replace("mlp", f))
		require.NoError(t, r.Unregister("mlp@1.0.0"))
		got, err := r.Lookup("mlp")
		require.NoError(t, err)
		assert.Same(t, f, got)
	})

	t.Run("invalid", func(t *testing.T) {
		r := registry.New()
		require.ErrorIs(t, r.Replace("mlp@1.2", newFake("x")), registry.ErrInvalidName)
		err := r.Replace("mlp", nil)
		require.ErrorIs(t, err, registry.ErrNilFactory)
		assert.EqualError(t, err, `registry: replace "mlp": registry: nil factory`)
		assert.Zero(t, r.Len())
	})
}

func TestUnregister(t *testing.T) {
	t.Parallel()
	r := registry.New()
	f := map[string]*fakeFactory{}
	for _, name := range []string{"mlp", "mlp@1.0.0", "mlp@2.0.0", "cnn@1.0.0"} {
		f[name] = newFake(name)
		require.NoError(t, r.Register(name, f[name]))
	}

	steps := []struct {
		unregister string
		wantErr    error
		wantBare   string // what "mlp" resolves to afterwards; "" for ErrNotFound
		wantLen    int
	}{
		{"mlp@3.0.0", registry.ErrNotFound, "mlp@2.0.0", 4},
		{"mlp@2.0.0", nil, "mlp@1.0.0", 3},
		{"mlp@2.0.0", registry.ErrNotFound, "mlp@1.0.0", 3},
		{"MLP@1.0.0", nil, "mlp", 2},
		{"mlp", nil, "", 1},
		{"mlp", registry.ErrNotFound, "", 1},
	}
	for _, step := range steps {
		t.Run(step.unregister, func(t *testing.T) {
			err := r.Unregister(step.unregister)
			if step.wantErr != nil {
				require.ErrorIs(t, err, step.wantErr)
				assert.EqualError(t, err, fmt.Sprintf("registry: unregister %q: registry: factory not found", step.unregister))
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, step.wantLen, r.Len())
			got, err := r.Lookup("mlp")
			if step.wantBare == "" {
				assert.ErrorIs(t, err, registry.ErrNotFound)
			} else {
				require.NoError(t, err)
				assert.Same(t, f[step.wantBare], got)
			}
		})
	}
	assert.Equal(t, []string{"cnn@1.0.0"}, r.Names(), "other bases are untouched")

	t.Run("unversioned name removes only the unversioned entry", func(t *testing.T) {
		r := registry.New()
		require.NoError(t, r.Register("mlp@1.0.0", newFake("mlp@1.0.0")))
		require.ErrorIs(t, r.Unregister("mlp"), registry.ErrNotFound)
		assert.Equal(t, []string{"mlp@1.0.0"}, r.Names())
	})
}

func TestNames(t *testing.T) {
	t.Parallel()
	r := registry.New()
	assert.Empty(t, r.Names())

	// Registered out of order; "mlp-small" and "mlp.v2" sort after every
	// "mlp@…" because the order is by base name first, not by full name.
	for _, name := range []string{
		"mlp@1.10.0", "mlp-small", "Z", "mlp", "mlp@1.0.0-rc.1", "a@1.0.0",
		"mlp@1.0.0", "mlp.v2@0.1.0", "mlp@1.2.0", "mlp@1.0.0-beta", "mlp@1.0.0-rc.10", "mlp@1.0.0-rc.2",
	} {
		require.NoError(t, r.Register(name, newFake(name)))
	}
	names := r.Names()
	assert.Equal(t, []string{
		"a@1.0.0",
		"mlp", "mlp@1.0.0-beta", "mlp@1.0.0-rc.1", "mlp@1.0.0-rc.2", "mlp@1.0.0-rc.10", "mlp@1.0.0", "mlp@1.2.0", "mlp@1.10.0",
		"mlp-small",
		"mlp.v2@0.1.0",
		"z",
	}, names)
	assert.Equal(t, len(names), r.Len())

	names[0] = "changed"
	assert.Equal(t, "a@1.0.0", r.Names()[0], "the slice is the caller's")
}

func TestBuild(t *testing.T) {
	t.Parallel()
	errBoom := &buildErr{reason: "boom"}
	r := registry.New()
	ok := newFake("mlp@1.2.0")
	require.NoError(t, r.Register("mlp@1.0.0", newFake("mlp@1.0.0")))
	require.NoError(t, r.Register("mlp@1.2.0", ok))
	bad := newFake("bad@0.1.0")
	bad.err = errBoom
	require.NoError(t, r.Register("bad@0.1.0", bad))
	ctxErr := newFake("slow")
	ctxErr.gate = make(chan struct{}) // never opened: Build returns ctx.Err()
	require.NoError(t, r.Register("slow", ctxErr))
	nilModel := newFake("nil")
	nilModel.nilOK = true
	require.NoError(t, r.Register("nil", nilModel))

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name    string
		ctx     context.Context
		query   string
		wantErr []error // all must match with errors.Is
		wantMsg string
		wantBy  *fakeFactory
	}{
		{name: "bare resolves to highest", query: "mlp", wantBy: ok},
		{name: "exact", query: "MLP@1.2.0", wantBy: ok},
		{name: "not found", query: "mlp@2.0.0", wantErr: []error{registry.ErrNotFound},
			wantMsg: `registry: build "mlp@2.0.0": registry: factory not found`},
		{name: "invalid name", query: "mlp@latest", wantErr: []error{registry.ErrInvalidName},
			wantMsg: `registry: build "mlp@latest": registry: invalid name: version "latest" is not a strict semantic version`},
		{name: "factory error names the resolved name", query: "BAD", wantErr: []error{errBoom},
			wantMsg: `registry: build "bad@0.1.0": fake: boom`},
		{name: "context error", ctx: cancelled, query: "slow", wantErr: []error{context.Canceled},
			wantMsg: `registry: build "slow": context canceled`},
		{name: "nil model", query: "nil", wantErr: []error{registry.ErrNilModel},
			wantMsg: `registry: build "nil": registry: factory returned a nil model`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			config := []byte("config:" + tc.name)
			m, err := r.Build(ctx, tc.query, config)
			if tc.wantErr != nil {
				require.Error(t, err)
				assert.Nil(t, m)
				for _, want := range tc.wantErr {
					assert.ErrorIs(t, err, want)
				}
				assert.True(t, strings.HasPrefix(err.Error(), tc.wantMsg), "got %q, want prefix %q", err, tc.wantMsg)
				return
			}
			require.NoError(t, err)
			fm := m.(*fakeModel)
			assert.Equal(t, tc.wantBy.id, fm.factoryID)
			assert.Equal(t, string(config), fm.config, "config reaches the factory")
			out, err := m.Predict(ctx, []byte("x"))
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprintf("mlp@1.2.0#%d(%s): x", ok.id, config), string(out))
			require.NoError(t, m.Close(ctx))
		})
	}

	t.Run("errors.As sees the factory's error", func(t *testing.T) {
		_, err := r.Build(context.Background(), "bad", nil)
		var be *buildErr
		require.ErrorAs(t, err, &be)
		assert.Equal(t, "boom", be.reason)
	})
}

// TestBuildOutsideLock blocks two builds inside Factory.Build and checks
// that every other operation, including a third build and writes to the
// very name being built, completes meanwhile.
func TestBuildOutsideLock(t *testing.T) {
	t.Parallel()
	r := registry.New()
	slow := newFake("slow@1.0.0")
	slow.started = make(chan struct{}, 2)
	slow.gate = make(chan struct{})
	require.NoError(t, r.Register("slow@1.0.0", slow))
	fast := newFake("fast")
	require.NoError(t, r.Register("fast", fast))

	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	defer cancel()
	type result struct {
		m   registry.Model
		err error
	}
	slowDone := make(chan result, 2)
	for range 2 {
		go func() {
			m, err := r.Build(ctx, "slow", nil)
			slowDone <- result{m, err}
		}()
	}
	// Both builds are inside the same factory at once: builds do not
	// serialise on each other.
	recv(t, slow.started, "first slow build to start")
	recv(t, slow.started, "second slow build to start")

	othersDone := make(chan error, 1)
	go func() {
		othersDone <- func() error {
			if f, err := r.Lookup("slow"); err != nil || f != slow {
				return fmt.Errorf("lookup: %v, %v", f, err)
			}
			if err := r.Register("other@1.0.0", newFake("other@1.0.0")); err != nil {
				return err
			}
			if err := r.Register("slow@2.0.0", newFake("slow@2.0.0")); err != nil {
				return err
			}
			if err := r.Replace("slow@1.0.0", newFake("slow@1.0.0")); err != nil {
				return err
			}
			if m, err := r.Build(ctx, "fast", nil); err != nil || m.(*fakeModel).factoryID != fast.id {
				return fmt.Errorf("build fast: %v, %v", m, err)
			}
			if err := r.Unregister("other@1.0.0"); err != nil {
				return err
			}
			if err := r.Unregister("slow@1.0.0"); err != nil {
				return err
			}
			if n := len(r.Names()); n != 2 || r.Len() != 2 {
				return fmt.Errorf("names %v, len %d", r.Names(), r.Len())
			}
			return nil
		}()
	}()
	require.NoError(t, recv(t, othersDone, "operations while builds are in flight"))

	select {
	case res := <-slowDone:
		t.Fatalf("slow build finished before its gate opened: %v", res.err)
	default:
	}
	close(slow.gate)
	for range 2 {
		res := recv(t, slowDone, "slow build to finish")
		require.NoError(t, res.err)
		assert.Equal(t, slow.id, res.m.(*fakeModel).factoryID)
	}
}

// TestInFlightBuildKeepsItsFactory changes the registry while a build is
// blocked inside its factory: the build must finish on that factory, and
// the next build must see the change.
func TestInFlightBuildKeepsItsFactory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		query  string
		change func(r *registry.Registry) (next *fakeFactory, err error) // next is what query finds afterwards; nil for none
	}{
		{"replaced", "mlp@1.0.0", func(r *registry.Registry) (*fakeFactory, error) {
			f := newFake("mlp@1.0.0")
			return f, r.Replace("mlp@1.0.0", f)
		}},
		{"unregistered", "mlp@1.0.0", func(r *registry.Registry) (*fakeFactory, error) {
			return nil, r.Unregister("mlp@1.0.0")
		}},
		{"bare name gets a higher version", "mlp", func(r *registry.Registry) (*fakeFactory, error) {
			f := newFake("mlp@1.1.0")
			return f, r.Register("mlp@1.1.0", f)
		}},
		{"unregistered then registered again", "mlp", func(r *registry.Registry) (*fakeFactory, error) {
			if err := r.Unregister("mlp@1.0.0"); err != nil {
				return nil, err
			}
			f := newFake("mlp@1.0.0")
			return f, r.Register("mlp@1.0.0", f)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := registry.New()
			old := newFake("mlp@1.0.0")
			old.started = make(chan struct{}, 1)
			old.gate = make(chan struct{})
			require.NoError(t, r.Register("mlp@1.0.0", old))

			ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
			defer cancel()
			done := make(chan registry.Model, 1)
			errs := make(chan error, 1)
			go func() {
				m, err := r.Build(ctx, tc.query, []byte("in-flight"))
				errs <- err
				done <- m
			}()
			recv(t, old.started, "build to start")

			next, err := tc.change(r)
			require.NoError(t, err)
			close(old.gate)
			require.NoError(t, recv(t, errs, "in-flight build"))
			m := (<-done).(*fakeModel)
			assert.Equal(t, old.id, m.factoryID, "in-flight build finished on another factory")
			_, startedHere := old.tokens.Load("in-flight")
			assert.True(t, startedHere)
			assert.Equal(t, int64(1), old.builds.Load())

			m2, err := r.Build(ctx, tc.query, nil)
			if next == nil {
				require.ErrorIs(t, err, registry.ErrNotFound)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, next.id, m2.(*fakeModel).factoryID, "next build ignored the change")
		})
	}
}

// TestLookupDoesNotAllocate is not parallel: testing.AllocsPerRun counts
// the whole process's allocations and refuses to run alongside other tests.
func TestLookupDoesNotAllocate(t *testing.T) {
	r := registry.New()
	for _, name := range []string{"mlp", "mlp@1.0.0", "mlp@1.2.0-rc.1", "cnn@0.1.0"} {
		require.NoError(t, r.Register(name, newFake(name)))
	}
	for _, name := range []string{"mlp", "mlp@1.0.0", "mlp@1.2.0-rc.1", "cnn"} {
		t.Run(name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := r.Lookup(name); err != nil {
					t.Fatal(err)
				}
			})
			assert.Zero(t, allocs)
		})
	}
}

// FuzzParseName checks that ParseName never panics, and that what it
// accepts is lowercase, within the limits, and parses again to itself.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"mlp", "MLP@1.2.0", "a.b_c-d@0.0.1-rc.1", "@1.0.0", "x@v1", "x@1.0.0+b", strings.Repeat("a", 129), "K\u212a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		base, version, err := registry.ParseName(name)
		if err != nil {
			return
		}
		require.NotEmpty(t, base)
		require.LessOrEqual(t, len(base), registry.MaxBaseNameLen)
		require.Equal(t, strings.ToLower(base), base)
		full := base
		if version != "" {
			full += "@" + version
		}
		b2, v2, err := registry.ParseName(full)
		require.NoError(t, err)
		require.Equal(t, base, b2)
		require.Equal(t, version, v2)
	})
}

func TestNameErrorSaysWhyOnce(t *testing.T) {
	for _, tc := range []struct{ in, reason string }{
		{"bad name!@1.0.0", `base name has ' ' at byte 3`},
		{"mlp@1.2", `version "1.2" is not a strict semantic version`},
		{"mlp@v1.2.0", `version "v1.2.0" starts with "v"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, _, err := registry.ParseName(tc.in)
			var ne *registry.NameError
			require.ErrorAs(t, err, &ne)
			require.ErrorIs(t, err, registry.ErrInvalidName)
			assert.Equal(t, tc.in, ne.Name)
			assert.Contains(t, ne.Reason, tc.reason)
			assert.NotContains(t, ne.Reason, "registry:")
			assert.Equal(t, 1, strings.Count(err.Error(), "registry:"), err.Error())
		})
	}
}
