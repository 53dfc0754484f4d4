// Package di is a small dependency-injection container: it maps Go types to
// build funcs and decides, by each provider's [Lifetime], when a value is
// built and who shares it. It knows nothing of WebAssembly; the host uses it
// to hand each guest call the capabilities of its request.
//
// # Lifetimes
//
//   - [Singleton]: built at most once per [Container], on first Resolve,
//     and shared until [Container.Close] disposes it.
//   - [Transient]: built on every Resolve. Inside a request the scope
//     disposes it at End; outside a request the caller owns it.
//   - [Request]: built at most once per request [Scope] and shared by every
//     Resolve in that request until [Scope.End] disposes it.
//
// Providers are keyed by the static type: Provide[io.Reader] and
// Provide[*bytes.Buffer] are different providers, and Resolve[T] finds the
// provider of exactly T.
//
// # Request scopes live in contexts
//
// [Container.BeginRequest] returns a context that carries a new [Scope]; a
// request resolves its Request values with that context, or any context
// derived from it, and ends the scope when it is done:
//
//	ctx, scope := c.BeginRequest(ctx)
//	defer scope.End(ctx)
//	session, err := di.Resolve[*Session](ctx, c)
//
// Each scope holds its own values, so concurrent requests never see each
// other's instances, and beginning or ending one request never touches
// another. The container keeps no reference to its scopes: an ended scope
// is garbage once its context is. A context may carry scopes of several
// containers; each container resolves in its own.
//
// # Build funcs
//
// A build func receives a context derived from the resolver's, and resolves
// its dependencies with it. That context carries the chain of builds in
// progress, which is how the container finds
//
//   - cycles: a build that needs itself, directly or through others, fails
//     with [ErrCycle] and the path, "di: dependency cycle: A -> B -> A",
//     instead of recursing or deadlocking; and
//   - captive dependencies: a Singleton's build sees no request scope, even
//     when first resolved inside a request, so reaching a Request type from
//     it, directly or through Transient providers, fails with
//     [ErrCaptiveDependency] instead of keeping one request's value for
//     ever.
//
// Build funcs run with no container or scope lock held. When several
// goroutines first resolve the same Singleton, or the same Request type in
// one scope, one of them builds and the others wait and share its value or
// its error; a failed build is not cached, so a later Resolve tries again.
//
// # Disposal
//
// [Scope.End] and [Container.Close] dispose what they own in reverse order
// of creation: each value with a Close(context.Context) error method, or
// else an io.Closer, is closed, and the errors are joined with errors.Join.
// Both are idempotent. A value whose build finishes after its scope ended
// (or its container closed) is disposed at once and never handed out.
//
// # Concurrency
//
// [Container] and [Scope] are safe for concurrent use by multiple
// goroutines, and so is every function of the package; a method is as
// safe as its type unless its doc says otherwise. Resolving a Singleton or Request value that already exists
// takes no lock and does not allocate; BeginRequest makes two small
// allocations.
//
// # Errors
//
// Failures wrap one of the sentinel errors [ErrNoProvider],
// [ErrNoRequestScope], [ErrCaptiveDependency], [ErrCycle],
// [ErrDuplicateProvider], [ErrInvalidProvider], [ErrScopeEnded] or
// [ErrContainerClosed] with the types involved, or the error of a build func
// with its type ("di: build *app.DB: dial: refused"), or of a Close method
// ("di: close *app.DB: …"). Check them with [errors.Is].
package di
