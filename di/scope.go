package di

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
)

// Scope is one request: it holds the Request-lifetime values built for it
// and disposes them, with the Transient values built inside it, at End. A
// Scope lives in the context that [Container.BeginRequest] returns; pass
// that context (or one derived from it) to Resolve. Two scopes never share a
// value, so concurrent requests cannot see each other's instances, and
// beginning or ending one request never touches another.
//
// A Scope is safe for concurrent use by multiple goroutines: the goroutines
// of one request may resolve at once, and End may race with them.
type Scope struct {
	c *Container
	// outer is the scope visible where this one began (of another
	// container, or an outer request), so resolves in this context still
	// find it.
	outer *Scope
	// fr is the value stored in the scope's context; fr.scope is this
	// scope. Embedding it saves BeginRequest an allocation.
	fr frame
	// cells holds the cells of the Request types resolved in the scope. It
	// is immutable and replaced whole under mu when a type is added, so the
	// goroutines of a request read it with one atomic load and no lock.
	cells atomic.Pointer[cellSet]
	// ended is written under mu and read without it on the resolve path.
	ended atomic.Bool

	mu      sync.Mutex // guards created and writes of cells and ended
	created []record   // disposable values built in the scope, in creation order
}

// cellSet is an immutable set of cells keyed by type. A request resolves a
// few types, so a linear scan of a short slice beats hashing; past
// indexFrom entries a map takes over.
type cellSet struct {
	entries []cellEntry
	index   map[reflect.Type]*cell // nil while len(entries) < indexFrom
}

type cellEntry struct {
	typ  reflect.Type
	cell *cell
}

const indexFrom = 8

// find returns the cell of typ, or nil.
func (cs *cellSet) find(typ reflect.Type) *cell {
	if cs == nil {
		return nil
	}
	if cs.index != nil {
		return cs.index[typ]
	}
	for i := range cs.entries {
		if cs.entries[i].typ == typ {
			return cs.entries[i].cell
		}
	}
	return nil
}

// with returns a copy of cs that also holds cl for typ.
func (cs *cellSet) with(typ reflect.Type, cl *cell) *cellSet {
	var old []cellEntry
	if cs != nil {
		old = cs.entries
	}
	next := &cellSet{entries: make([]cellEntry, len(old), len(old)+1)}
	copy(next.entries, old)
	next.entries = append(next.entries, cellEntry{typ: typ, cell: cl})
	if len(next.entries) >= indexFrom {
		next.index = make(map[reflect.Type]*cell, len(next.entries))
		for _, e := range next.entries {
			next.index[e.typ] = e.cell
		}
	}
	return next
}

// ctxKey is the context key of the package's *frame.
type ctxKey struct{}

// frame is what a context carries for the package: the request scopes
// visible in it and the chain of builds in progress.
type frame struct {
	// scope is the innermost visible scope; its outer links lead to the
	// others. nil inside a singleton's build, which must see none.
	scope *Scope
	chain *node // innermost build in progress; nil outside build funcs
}

// node is one build in progress. The nodes form an immutable linked list
// from the innermost build to the outermost, carried in the context that a
// build func receives.
type node struct {
	fr     frame // the build context's value; fr.chain is this node
	c      *Container
	typ    reflect.Type
	call   *call // the build attempt; nil for a Transient
	parent *node
	captor *node // the outermost Singleton build in the chain; nil if none
}

// BeginRequest starts a request scope and returns a context that carries it
// along with ctx's values, cancellation and deadline. Resolve Request values
// with the returned context (or a context derived from it), and End the
// scope when the request is done, typically with defer. The scope is not
// ended when ctx is cancelled.
//
// BeginRequest always starts a new scope: a scope of another container in
// ctx stays visible to that container, and an outer scope of c is hidden
// from c by the new one. It costs two small allocations and is safe for
// concurrent use.
func (c *Container) BeginRequest(ctx context.Context) (context.Context, *Scope) {
	s := &Scope{c: c}
	if fr := frameFrom(ctx); fr != nil {
		s.outer, s.fr.chain = fr.scope, fr.chain
	}
	s.fr.scope = s
	return context.WithValue(ctx, ctxKey{}, &s.fr), s
}

// ScopeFrom returns the request scope in ctx and whether there is one.
// Inside a build func it is the scope of the building container's request
// (none inside a Singleton's build); elsewhere it is the innermost scope,
// of whichever container began it: use [Scope.Container] to tell the scopes
// of several containers apart. ScopeFrom is safe for concurrent use.
func ScopeFrom(ctx context.Context) (*Scope, bool) {
	fr := frameFrom(ctx)
	if fr == nil {
		return nil, false
	}
	s := fr.scope
	if fr.chain != nil {
		s = fr.scopeFor(fr.chain.c)
	}
	return s, s != nil
}

// Container returns the container that began s. It is safe for concurrent
// use.
func (s *Scope) Container() *Container { return s.c }

// Ended reports whether End has been called. It is safe for concurrent use.
func (s *Scope) Ended() bool { return s.ended.Load() }

// End ends the request: it disposes, in reverse order of creation, the
// Request values and the Transient values built in s that have a
// Close(context.Context) error method or, failing that, implement io.Closer,
// and returns their errors joined with errors.Join. Afterwards Resolve in s
// fails with [ErrScopeEnded]; a build in flight when End runs disposes its
// value as soon as it returns and fails with ErrScopeEnded, so End never
// misses a value. A second End returns nil. End is safe for concurrent use.
func (s *Scope) End(ctx context.Context) error {
	s.mu.Lock()
	if s.ended.Load() {
		s.mu.Unlock()
		return nil
	}
	s.ended.Store(true)
	created := s.created
	s.created = nil
	s.cells.Store(nil) // drop the values even if a context still holds s
	s.mu.Unlock()
	return disposeAll(ctx, created)
}

// cell returns the cell of typ in s, adding it if needed. It fails once
// the scope has ended.
func (s *Scope) cell(typ reflect.Type) (*cell, error) {
	if cl := s.cells.Load().find(typ); cl != nil {
		return cl, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended.Load() {
		return nil, scopeEnded(typ)
	}
	cs := s.cells.Load()
	cl := cs.find(typ)
	if cl == nil {
		cl = &cell{}
		s.cells.Store(cs.with(typ, cl))
	}
	return cl, nil
}

// keep records a value built in s for End to dispose. If End came first, it
// disposes v at once and fails, so End never misses a value.
func (s *Scope) keep(ctx context.Context, typ reflect.Type, v any) error {
	s.mu.Lock()
	if s.ended.Load() {
		s.mu.Unlock()
		return errors.Join(fmt.Errorf("%w: %s built after End", ErrScopeEnded, typ), dispose(ctx, typ, v))
	}
	if disposable(v) {
		s.created = append(s.created, record{typ: typ, v: v})
	}
	s.mu.Unlock()
	return nil
}

// scopeEnded reports a resolve of typ in an ended scope.
func scopeEnded(typ reflect.Type) error {
	return fmt.Errorf("%w: resolve %s", ErrScopeEnded, typ)
}

// frameFrom returns the package's frame in ctx, or nil.
func frameFrom(ctx context.Context) *frame {
	fr, _ := ctx.Value(ctxKey{}).(*frame)
	return fr
}

// scopeFor returns the innermost scope of c visible in fr, or nil.
func (fr *frame) scopeFor(c *Container) *Scope {
	if fr == nil {
		return nil
	}
	for s := fr.scope; s != nil; s = s.outer {
		if s.c == c {
			return s
		}
	}
	return nil
}

// singleton returns the outermost Singleton build in the chain, or nil.
func (n *node) singleton() *node {
	if n == nil {
		return nil
	}
	return n.captor
}

// building reports whether the chain has a build attempt (not only
// Transient builds): only then can another goroutine be waiting on it.
func (n *node) building() bool {
	for ; n != nil; n = n.parent {
		if n.call != nil {
			return true
		}
	}
	return false
}

// setWaitsOn records f as what every build attempt in the chain waits on
// (nil: no longer waiting). Setting all of them, not only the innermost,
// lets a walk that enters the chain at any of its builds find f. A build
// func that resolves from several goroutines at once shares one link among
// them, so a cycle through such fan-out may go undetected.
func (n *node) setWaitsOn(f *call) {
	for ; n != nil; n = n.parent {
		if n.call != nil {
			n.call.waitsOn.Store(f)
		}
	}
}

// pathFrom returns the types of the chain from outer m to innermost n.
func (n *node) pathFrom(m *node) []reflect.Type {
	var path []reflect.Type
	for ; n != nil; n = n.parent {
		path = append(path, n.typ)
		if n == m {
			break
		}
	}
	slices.Reverse(path)
	return path
}

// cyclePath returns the cycle that resolving typ of c would close, or nil.
func (n *node) cyclePath(c *Container, typ reflect.Type) []reflect.Type {
	for m := n; m != nil; m = m.parent {
		if m.c == c && m.typ == typ {
			return append(n.pathFrom(m), typ)
		}
	}
	return nil
}

// maxWaitWalk bounds the walk along waitsOn links; a longer chain of
// builds waiting on each other is not a realistic dependency graph.
const maxWaitWalk = 1 << 10

// deadlockPath returns the cycle that waiting on f would close, or nil: f's
// builder waits, directly or through other builders, on a build in this
// chain. Every waiter stores its waitsOn link before walking, so of the
// goroutines that close a cycle at least the last one sees the whole cycle.
func (n *node) deadlockPath(f *call) []reflect.Type {
	var walked []reflect.Type
	for y, steps := f, 0; y != nil && steps < maxWaitWalk; y, steps = y.waitsOn.Load(), steps+1 {
		if y.finished.Load() {
			return nil
		}
		for m := n; m != nil; m = m.parent {
			if m.call == y {
				return append(append(n.pathFrom(m), walked...), y.typ)
			}
		}
		walked = append(walked, y.typ)
	}
	return nil
}

// disposable reports whether v has a Close method that End or Close calls.
func disposable(v any) bool {
	switch v.(type) {
	case interface{ Close(context.Context) error }, io.Closer:
		return true
	}
	return false
}

// dispose closes v, preferring Close(ctx) to io.Closer's Close.
func dispose(ctx context.Context, typ reflect.Type, v any) error {
	var err error
	switch x := v.(type) {
	case interface{ Close(context.Context) error }:
		err = x.Close(ctx)
	case io.Closer:
		err = x.Close()
	}
	if err != nil {
		return closeError(typ, err)
	}
	return nil
}

// disposeAll disposes created in reverse order and joins the errors.
func disposeAll(ctx context.Context, created []record) error {
	var errs []error
	for i := len(created) - 1; i >= 0; i-- {
		if err := dispose(ctx, created[i].typ, created[i].v); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
