package di

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Lifetime says how long a provided value lives and who shares it. A
// Lifetime is a plain value, safe for concurrent use.
type Lifetime int

// The lifetimes. The zero Lifetime is none of them, so a forgotten lifetime
// is an [ErrInvalidProvider] rather than a silent default.
const (
	// Singleton values are built at most once per [Container], on first
	// Resolve, and shared by every caller until [Container.Close].
	Singleton Lifetime = iota + 1
	// Transient values are built anew on every Resolve. Inside a request
	// scope the scope disposes them at End; outside, the caller owns them.
	Transient
	// Request values are built at most once per request [Scope] and shared
	// by every Resolve with that scope's context until [Scope.End].
	Request
)

// String returns "singleton", "transient", "request", or "Lifetime(N)" for
// an invalid value.
func (lt Lifetime) String() string {
	switch lt {
	case Singleton:
		return "singleton"
	case Transient:
		return "transient"
	case Request:
		return "request"
	}
	return fmt.Sprintf("Lifetime(%d)", int(lt))
}

// Container maps types to providers and keeps the singletons they build.
// Request-scoped values live in a [Scope] carried by a context, never in the
// container, and the container keeps no reference to its scopes, so an ended
// scope is garbage as soon as its context is.
//
// A Container is safe for concurrent use by multiple goroutines: Provide,
// Resolve, BeginRequest and Close may be called from any goroutine at any
// time. Build funcs run without any container or scope lock held, so they
// may resolve other types; concurrent first resolves of one singleton (or of
// one request value within a scope) wait for a single build and share its
// result.
type Container struct {
	// providers is an immutable map, replaced whole under mu by each
	// Provide, so Resolve reads it with one atomic load and no lock.
	providers atomic.Pointer[map[reflect.Type]*provider]
	// closed is written under mu and read without it by Resolve.
	closed atomic.Bool

	mu      sync.Mutex // guards writes of providers and closed, and created
	created []record   // disposable singletons built so far, in creation order
}

// provider is one Provide: the type, its lifetime and its build func.
type provider struct {
	typ   reflect.Type
	lt    Lifetime
	build func(context.Context) (any, error) // nil for ProvideValue
	cell  cell                               // the singleton; unused by other lifetimes
}

// cell holds a value built at most once: a container's singleton or a
// scope's request value.
type cell struct {
	ready atomic.Bool // set once val is final; read val only after ready
	val   any

	mu       sync.Mutex // guards inflight and the store of val and ready
	inflight *call      // the build running now; nil if none
}

// call is one attempt to build a cell's value. Goroutines that find it in
// flight wait on done and share its outcome; a failed attempt is not cached,
// so a later resolve starts a new call.
type call struct {
	typ      reflect.Type
	done     chan struct{} // closed once val and err are final
	finished atomic.Bool   // set just before done is closed
	val      any
	err      error
	// waitsOn is the in-flight call that this call's build is blocked on,
	// nil while it is not waiting. Waiters follow these links to detect a
	// cycle spread over goroutines, which would otherwise deadlock.
	waitsOn atomic.Pointer[call]
}

// record is a created value that the container or a scope will dispose.
type record struct {
	typ reflect.Type
	v   any
}

// errPanicked is what waiters of a build get when the build func panics;
// the panic itself goes on up the goroutine that ran the build.
var errPanicked = errors.New("build func panicked")

// New returns an empty Container.
func New() *Container {
	c := &Container{}
	empty := map[reflect.Type]*provider{}
	c.providers.Store(&empty)
	return c
}

// Provide registers build as the provider of type T with lifetime lt. The
// key is the static type T, so Provide[io.Reader] and Provide[*os.File] are
// different providers. build receives a context derived from the resolving
// caller's, which it should use to resolve its own dependencies: that
// context carries the request scope (for Request and Transient providers)
// and the chain of builds in progress, which is how cycles and captive
// dependencies are detected. A Singleton or Request value is built with the
// context of the Resolve that first needed it: if that context is cancelled
// the build may fail, and the next Resolve builds again.
//
// Provide fails with [ErrInvalidProvider] for a nil build or an invalid
// lifetime, [ErrDuplicateProvider] if T already has a provider, and
// [ErrContainerClosed] after Close. It is safe for concurrent use; each call
// copies the provider map, so register providers at start-up rather than on
// a hot path.
func Provide[T any](c *Container, lt Lifetime, build func(ctx context.Context) (T, error)) error {
	typ := reflect.TypeFor[T]()
	if build == nil {
		return fmt.Errorf("%w: %s: nil build func", ErrInvalidProvider, typ)
	}
	switch lt {
	case Singleton, Transient, Request:
	default:
		return fmt.Errorf("%w: %s: invalid lifetime %s", ErrInvalidProvider, typ, lt)
	}
	return c.add(&provider{
		typ: typ,
		lt:  lt,
		build: func(ctx context.Context) (any, error) {
			v, err := build(ctx)
			if err != nil {
				return nil, err
			}
			return v, nil
		},
	})
}

// ProvideValue registers v as the Singleton value of type T. The container
// does not own v: Close does not dispose it. ProvideValue fails like
// [Provide] and is safe for concurrent use.
func ProvideValue[T any](c *Container, v T) error {
	p := &provider{typ: reflect.TypeFor[T](), lt: Singleton}
	p.cell.val = v
	p.cell.ready.Store(true)
	return c.add(p)
}

// add publishes p in a new copy of the provider map.
func (c *Container) add(p *provider) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return fmt.Errorf("%w: provide %s", ErrContainerClosed, p.typ)
	}
	old := *c.providers.Load()
	if _, dup := old[p.typ]; dup {
		return fmt.Errorf("%w: %s", ErrDuplicateProvider, p.typ)
	}
	next := make(map[reflect.Type]*provider, len(old)+1)
	for t, q := range old {
		next[t] = q
	}
	next[p.typ] = p
	c.providers.Store(&next)
	return nil
}

// Provided reports whether type T has a provider in c. It is safe for
// concurrent use.
func Provided[T any](c *Container) bool {
	_, ok := (*c.providers.Load())[reflect.TypeFor[T]()]
	return ok
}

// Types returns the names of the provided types (as reflect.Type.String
// spells them), sorted. It is safe for concurrent use.
func (c *Container) Types() []string {
	ps := *c.providers.Load()
	names := make([]string, 0, len(ps))
	for t := range ps {
		names = append(names, t.String())
	}
	slices.Sort(names)
	return names
}

// Resolve returns the value of type T, building it if its lifetime calls
// for it. ctx must be non-nil; to resolve a Request-lifetime type it must
// come from [Container.BeginRequest] (or from a build func's context inside
// that request).
//
// Resolve fails with [ErrNoProvider] for a type without a provider,
// [ErrNoRequestScope] for a Request type outside a request,
// [ErrScopeEnded] after the scope's End, [ErrCaptiveDependency] when a
// Singleton's build reaches a Request type, [ErrCycle] when a build needs
// itself, [ErrContainerClosed] after Close, the context's error if ctx is
// done while waiting for another goroutine's build, and otherwise with the
// build func's error wrapped as "di: build T: …".
//
// Resolve is safe for concurrent use. Resolving a Singleton or Request value
// that already exists takes no lock and does not allocate.
func Resolve[T any](ctx context.Context, c *Container) (T, error) {
	v, err := c.resolve(ctx, reflect.TypeFor[T]())
	if err != nil {
		var zero T
		return zero, err
	}
	// The comma-ok form turns a nil interface value into T's zero value.
	t, _ := v.(T)
	return t, nil
}

// resolve is Resolve without the type parameter: the fast paths for values
// that already exist, then resolveSlow.
func (c *Container) resolve(ctx context.Context, typ reflect.Type) (any, error) {
	if c.closed.Load() {
		return nil, fmt.Errorf("%w: resolve %s", ErrContainerClosed, typ)
	}
	p := (*c.providers.Load())[typ]
	if p == nil {
		return nil, c.noProvider(typ)
	}
	switch p.lt {
	case Singleton:
		// A scope that has ended resolves nothing, not even singletons.
		if fr := frameFrom(ctx); fr != nil {
			if s := fr.scopeFor(c); s != nil && s.ended.Load() {
				return nil, scopeEnded(p.typ)
			}
		}
		if p.cell.ready.Load() {
			return p.cell.val, nil
		}
	case Request:
		if fr := frameFrom(ctx); fr != nil {
			if s := fr.scopeFor(c); s != nil && !s.ended.Load() {
				if cl := s.cells.Load().find(typ); cl != nil && cl.ready.Load() {
					return cl.val, nil
				}
			}
		}
	}
	return c.resolveSlow(ctx, p)
}

// resolveSlow checks the resolution chain for cycles and captive
// dependencies, then builds the value or waits for the build in flight.
func (c *Container) resolveSlow(ctx context.Context, p *provider) (any, error) {
	fr := frameFrom(ctx)
	var chain *node
	var visible *Scope // the innermost scope visible in ctx, of any container
	if fr != nil {
		chain, visible = fr.chain, fr.scope
	}
	if path := chain.cyclePath(c, p.typ); path != nil {
		return nil, cycleError(path)
	}
	switch p.lt {
	case Singleton:
		// A singleton's build sees no request scope, even when it is first
		// resolved inside a request: what it resolves it keeps for ever.
		return c.once(ctx, chain, p, &p.cell, nil, nil)

	case Request:
		s := fr.scopeFor(c)
		if s == nil {
			if captor := chain.singleton(); captor != nil {
				return nil, fmt.Errorf("%w: singleton %s depends on request-scoped %s (%s)",
					ErrCaptiveDependency, captor.typ, p.typ, joinTypes(append(chain.pathFrom(captor), p.typ)))
			}
			return nil, fmt.Errorf("%w: %s has request lifetime; resolve it with a context from BeginRequest",
				ErrNoRequestScope, p.typ)
		}
		cl, err := s.cell(p.typ)
		if err != nil {
			return nil, err
		}
		return c.once(ctx, chain, p, cl, s, visible)

	default: // Transient
		s := fr.scopeFor(c)
		if s != nil && s.ended.Load() {
			return nil, scopeEnded(p.typ)
		}
		v, err := c.build(ctx, new(node), chain, p, nil, visible)
		if err != nil {
			return nil, err
		}
		if s != nil {
			if err := s.keep(ctx, p.typ, v); err != nil {
				return nil, err
			}
		}
		return v, nil
	}
}

// once returns cl's value, building it if no build is in flight, or waiting
// for the build in flight. s is the scope that owns a request value, nil for
// a singleton; visible is what the build's context shows of request scopes.
func (c *Container) once(ctx context.Context, chain *node, p *provider, cl *cell, s, visible *Scope) (any, error) {
	cl.mu.Lock()
	if cl.ready.Load() {
		v := cl.val
		cl.mu.Unlock()
		return v, nil
	}
	if f := cl.inflight; f != nil {
		cl.mu.Unlock()
		return wait(ctx, chain, f)
	}
	// One allocation for the attempt and its node of the chain.
	b := &struct {
		f call
		n node
	}{f: call{typ: p.typ, done: make(chan struct{})}}
	f := &b.f
	cl.inflight = f
	cl.mu.Unlock()

	completed := false
	defer func() {
		if !completed {
			// The build panicked: release the waiters and let the panic go on.
			complete(cl, f, nil, buildError(p.typ, errPanicked))
		}
	}()
	v, err := c.build(ctx, &b.n, chain, p, f, visible)
	if err == nil {
		if s != nil {
			err = s.keep(ctx, p.typ, v)
		} else {
			err = c.keep(ctx, p.typ, v)
		}
	}
	completed = true
	complete(cl, f, v, err)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// complete publishes the outcome of f: a value is cached in cl, an error is
// not, and either way the waiters of f get it.
func complete(cl *cell, f *call, v any, err error) {
	cl.mu.Lock()
	if err == nil {
		cl.val = v
		cl.ready.Store(true)
	}
	cl.inflight = nil
	cl.mu.Unlock()
	f.val, f.err = v, err
	f.finished.Store(true)
	close(f.done)
}

// wait waits for another goroutine's build f. If this goroutine is itself
// building, it first records what it waits on and checks that the builders
// it waits for are not, in turn, waiting for it.
func wait(ctx context.Context, chain *node, f *call) (any, error) {
	if chain.building() {
		chain.setWaitsOn(f)
		defer chain.setWaitsOn(nil)
		if path := chain.deadlockPath(f); path != nil {
			return nil, cycleError(path)
		}
	}
	select {
	case <-f.done:
		return f.val, f.err
	default:
	}
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("di: wait for build of %s: %w", f.typ, context.Cause(ctx))
	}
}

// build runs p's build func with a context carrying n, a new node of the
// resolution chain under parent. f is the call being built (nil for a
// Transient); visible is the request scope the build may see.
func (c *Container) build(ctx context.Context, n, parent *node, p *provider, f *call, visible *Scope) (any, error) {
	*n = node{c: c, typ: p.typ, call: f, parent: parent}
	if parent != nil {
		n.captor = parent.captor
	}
	if p.lt == Singleton && n.captor == nil {
		n.captor = n
	}
	n.fr = frame{scope: visible, chain: n}
	v, err := p.build(context.WithValue(ctx, ctxKey{}, &n.fr))
	if err != nil {
		return nil, buildError(p.typ, err)
	}
	return v, nil
}

// keep records a singleton the container must dispose at Close. If Close
// came first, it disposes v at once and fails: the caller must not hand out
// a value that Close has missed.
func (c *Container) keep(ctx context.Context, typ reflect.Type, v any) error {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return errors.Join(fmt.Errorf("%w: %s built after Close", ErrContainerClosed, typ), dispose(ctx, typ, v))
	}
	if disposable(v) {
		c.created = append(c.created, record{typ: typ, v: v})
	}
	c.mu.Unlock()
	return nil
}

// Close disposes the singletons that build funcs created, in reverse order
// of creation, calling Close(ctx) or, failing that, io.Closer's Close on
// each value that has one. Values given to ProvideValue are not disposed.
// Close returns every Close error joined with errors.Join; a second Close
// returns nil. Afterwards Provide and Resolve fail with
// [ErrContainerClosed]; a singleton whose build was in flight is disposed as
// soon as the build returns.
//
// Close does not end request scopes: End each one you began. Close is safe
// for concurrent use.
func (c *Container) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return nil
	}
	c.closed.Store(true)
	created := c.created
	c.created = nil
	c.mu.Unlock()
	return disposeAll(ctx, created)
}

// noProvider reports typ as unknown and lists what is provided.
func (c *Container) noProvider(typ reflect.Type) error {
	names := c.Types()
	if len(names) == 0 {
		return fmt.Errorf("%w: %s (nothing is provided)", ErrNoProvider, typ)
	}
	return fmt.Errorf("%w: %s (provided: %s)", ErrNoProvider, typ, strings.Join(names, ", "))
}
