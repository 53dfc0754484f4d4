package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Sentinel errors. The registry wraps them with the operation and the name,
// so test for them with [errors.Is].
var (
	// ErrInvalidName reports a name that breaks the rules of [ParseName];
	// the wrapping error says which rule.
	ErrInvalidName = errors.New("registry: invalid name")

	// ErrNilFactory reports a nil Factory passed to Register or Replace.
	ErrNilFactory = errors.New("registry: nil factory")

	// ErrAlreadyRegistered reports a Register of a name that is taken.
	// Register never overwrites; use [Registry.Replace] to swap a factory.
	ErrAlreadyRegistered = errors.New("registry: name already registered")

	// ErrNotFound reports a name that no registered factory answers to.
	ErrNotFound = errors.New("registry: factory not found")

	// ErrNilModel reports a Factory whose Build returned neither a Model
	// nor an error.
	ErrNilModel = errors.New("registry: factory returned a nil model")
)

// Info is what a Factory says about itself. It is a plain value: safe for
// concurrent use as long as nobody modifies it, which callers should not do
// to an Info they did not build.
type Info struct {
	// Name and Version identify the model, e.g. "mlp" and "1.2.0".
	Name, Version string
	// Description is a one-line, human-readable summary.
	Description string
	// ConfigSchema is the JSON Schema of the config passed to Build. It may
	// be empty, meaning the factory documents no schema.
	ConfigSchema json.RawMessage
	// Capabilities lists the capabilities the factory asks the host for.
	Capabilities []string
}

// Factory builds models of one kind. A Registry calls Build concurrently and
// outside its lock, so implementations must be safe for concurrent use by
// multiple goroutines, and Info and Build may be called after the factory
// has been replaced or unregistered.
type Factory interface {
	// Info describes the factory.
	Info() Info
	// Build returns a new Model configured by config, or an error; never
	// both (a factory that fails cleans up what it built) and never
	// neither. It should stop early when ctx is done.
	Build(ctx context.Context, config []byte) (Model, error)
}

// Model is a built model. Whether a Model is safe for concurrent use is up
// to its Factory, which must document it; callers that do not know should
// use a Model from one goroutine at a time.
type Model interface {
	// Predict runs the model on input and returns its output.
	Predict(ctx context.Context, input []byte) ([]byte, error)
	// Close releases the model's resources. The Model must not be used
	// after Close.
	Close(ctx context.Context) error
}

// Registry maps names to factories; see the package documentation for the
// naming and resolution rules. The zero value is an empty Registry ready to
// use. A Registry is safe for concurrent use by multiple goroutines and must
// not be copied after first use.
type Registry struct {
	// mu serialises writers and guards byBase. It is held only to change
	// the maps, never across a call into a Factory. Readers never take it
	// (they read index), so it is a plain Mutex, not an RWMutex.
	mu     sync.Mutex
	byBase map[string][]*entry // base name -> its entries, ascending by compareNames

	// index is what readers use: an immutable snapshot of the lookup maps
	// that every write replaces whole (copy on write). Lookups take no
	// lock at all, so they scale across cores: a read lock's reader count
	// is one cache line that every reading core writes.
	index atomic.Pointer[index]
}

// index is an immutable snapshot of the registry's lookup maps.
type index struct {
	exact  map[string]*entry // full name -> entry
	latest map[string]*entry // base name -> its highest entry, for bare lookups
}

// entry is one registration. It is immutable: Replace stores a new entry,
// so a reader may keep using an entry it found in an older index.
type entry struct {
	name    parsedName
	factory Factory
}

// New returns an empty Registry. It is safe for concurrent use by multiple
// goroutines.
func New() *Registry {
	return &Registry{}
}

// Register adds f under the exact name, which may carry a version
// ("mlp@1.2.0"). It fails with [ErrInvalidName] for an invalid name,
// [ErrNilFactory] for a nil f and [ErrAlreadyRegistered] if the name is
// taken; it never overwrites. Register is safe for concurrent use by
// multiple goroutines.
func (r *Registry) Register(name string, f Factory) error {
	if err := r.put(name, f, false); err != nil {
		return fmt.Errorf("registry: register %q: %w", name, err)
	}
	return nil
}

// Replace registers f under the exact name, or atomically swaps it in for
// the factory registered there: a concurrent Lookup or Build finds either
// the old factory or f, never nothing. Builds already running on the old
// factory finish on it. It fails with [ErrInvalidName] or [ErrNilFactory].
// Replace is safe for concurrent use by multiple goroutines.
func (r *Registry) Replace(name string, f Factory) error {
	if err := r.put(name, f, true); err != nil {
		return fmt.Errorf("registry: replace %q: %w", name, err)
	}
	return nil
}

// put adds or, when replace is set, swaps the entry for name.
func (r *Registry) put(name string, f Factory, replace bool) error {
	n, err := parseName(name) // outside the lock: it allocates and may fail
	if err != nil {
		return err
	}
	if f == nil {
		return ErrNilFactory
	}
	e := &entry{name: n, factory: f}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byBase == nil {
		r.byBase = make(map[string][]*entry)
	}
	es := r.byBase[n.base]
	i, found := slices.BinarySearchFunc(es, e, compareEntries)
	switch {
	case found && !replace:
		return ErrAlreadyRegistered
	case found:
		es[i] = e
	default:
		es = slices.Insert(es, i, e)
		r.byBase[n.base] = es
	}
	idx := r.next()
	idx.exact[n.full] = e
	idx.latest[n.base] = es[len(es)-1]
	r.index.Store(idx)
	return nil
}

// next returns a copy of the current index for a writer to change and
// publish. The caller holds mu.
func (r *Registry) next() *index {
	if cur := r.index.Load(); cur != nil {
		return &index{exact: maps.Clone(cur.exact), latest: maps.Clone(cur.latest)}
	}
	return &index{exact: map[string]*entry{}, latest: map[string]*entry{}}
}

// Unregister removes the entry registered under the exact name:
// Unregister("mlp") removes only the unversioned "mlp", not "mlp@1.2.0".
// It fails with [ErrInvalidName] or, if there is no such entry,
// [ErrNotFound]. Builds already running on the factory finish on it.
// Unregister is safe for concurrent use by multiple goroutines.
func (r *Registry) Unregister(name string) error {
	n, err := parseName(name)
	if err != nil {
		return fmt.Errorf("registry: unregister %q: %w", name, err)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.index.Load()
	if cur == nil || cur.exact[n.full] == nil {
		return fmt.Errorf("registry: unregister %q: %w", name, ErrNotFound)
	}
	e := cur.exact[n.full]
	idx := r.next()
	delete(idx.exact, n.full)
	es := slices.Clone(r.byBase[n.base]) // readers never see byBase, but keep entries immutable
	i := slices.Index(es, e)
	es = slices.Delete(es, i, i+1)
	if len(es) == 0 {
		delete(r.byBase, n.base)
		delete(idx.latest, n.base)
	} else {
		r.byBase[n.base] = es
		idx.latest[n.base] = es[len(es)-1]
	}
	r.index.Store(idx)
	return nil
}

// Lookup returns the factory that name resolves to: a versioned name
// ("mlp@1.2.0") exactly, a bare name ("mlp") to the highest version of that
// base name, the unversioned entry counting as lowest. It fails with
// [ErrInvalidName] or [ErrNotFound]. Lookup does not allocate when name is
// already lower case. It is safe for concurrent use by multiple goroutines.
func (r *Registry) Lookup(name string) (Factory, error) {
	e, err := r.find(name)
	if err != nil {
		return nil, fmt.Errorf("registry: lookup %q: %w", name, err)
	}
	return e.factory, nil
}

// Resolve is Lookup that also returns the full name the factory is
// registered under, e.g. "mlp@1.2.0" for "MLP". Resolve is safe for
// concurrent use by multiple goroutines.
func (r *Registry) Resolve(name string) (fullName string, f Factory, err error) {
	e, err := r.find(name)
	if err != nil {
		return "", nil, fmt.Errorf("registry: resolve %q: %w", name, err)
	}
	return e.name.full, e.factory, nil
}

// Build resolves name as Lookup does and builds a Model with config. The
// factory is read from the registry's current snapshot, without a lock, and
// built outside any lock, so a slow build blocks nothing else, and a build running when its factory is replaced or
// unregistered finishes on the factory it started with. Errors name the
// resolved full name: `registry: build "mlp@1.2.0": <cause>`; the cause is
// [ErrInvalidName], [ErrNotFound], [ErrNilModel] or the factory's own error,
// which stays reachable with [errors.Is] and [errors.As]. Build is safe for
// concurrent use by multiple goroutines.
func (r *Registry) Build(ctx context.Context, name string, config []byte) (Model, error) {
	e, err := r.find(name)
	if err != nil {
		return nil, fmt.Errorf("registry: build %q: %w", name, err)
	}
	m, err := e.factory.Build(ctx, config)
	if err != nil {
		return nil, fmt.Errorf("registry: build %q: %w", e.name.full, err)
	}
	if m == nil {
		return nil, fmt.Errorf("registry: build %q: %w", e.name.full, ErrNilModel)
	}
	return m, nil
}

// find resolves name. Its hit path takes no lock and does not allocate
// when name is lower case: no parsing, one map access in the current
// snapshot. Only a miss parses name, to tell an invalid name from an
// unknown one.
func (r *Registry) find(name string) (*entry, error) {
	key := lowerASCII(name)
	var e *entry
	if idx := r.index.Load(); idx != nil {
		if strings.Contains(key, "@") {
			e = idx.exact[key]
		} else {
			e = idx.latest[key]
		}
	}
	if e != nil {
		return e, nil
	}
	if _, err := parseName(name); err != nil {
		return nil, err
	}
	return nil, ErrNotFound
}

// Names returns the full names of all entries, in lower case, sorted by
// base name, then by version ascending with the unversioned entry first:
// "mlp", "mlp@1.0.0-rc.1", "mlp@1.0.0", "mlp@1.10.0", "mlp-small@0.1.0".
// The slice is the caller's. Names is safe for concurrent use by multiple
// goroutines; it is a snapshot and may be stale by the time it returns.
func (r *Registry) Names() []string {
	idx := r.index.Load()
	if idx == nil {
		return []string{}
	}
	es := make([]*entry, 0, len(idx.exact))
	for _, e := range idx.exact {
		es = append(es, e)
	}

	// Entries are immutable, so sorting them needs no lock.
	slices.SortFunc(es, func(a, b *entry) int {
		if c := strings.Compare(a.name.base, b.name.base); c != 0 {
			return c
		}
		return compareEntries(a, b)
	})
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.name.full
	}
	return names
}

// Len returns the number of entries; every version counts. Len is safe for
// concurrent use by multiple goroutines.
func (r *Registry) Len() int {
	if idx := r.index.Load(); idx != nil {
		return len(idx.exact)
	}
	return 0
}

func compareEntries(a, b *entry) int { return compareNames(&a.name, &b.name) }
