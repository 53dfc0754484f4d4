// Package registry maps names to model factories. It is wasmreg's
// catalogue of what can be built; it knows nothing of WebAssembly, so the
// host, the CLI and tests all share one implementation.
//
// # Names
//
// A name is a base name, optionally followed by "@" and a semantic version:
// "mlp" or "mlp@1.2.0". The base name is 1 to 128 ASCII letters, digits, '.',
// '_' or '-'; the version is a strict semantic version MAJOR.MINOR.PATCH with
// an optional pre-release ("1.2.0", "2.0.0-rc.1"), without a "v" prefix and
// without build metadata. Names are case-insensitive: they are validated,
// stored and reported in lower case. [ParseName] applies these rules.
//
// # Resolution
//
// [Registry.Register], [Registry.Replace] and [Registry.Unregister] take an
// exact name: "mlp" and "mlp@1.2.0" are different entries. [Registry.Lookup]
// and [Registry.Build] resolve a versioned name exactly and a bare name to
// the highest version registered under that base name, by semantic version
// precedence (so "1.0.0-rc.1" < "1.0.0" < "1.1.0"). An entry registered
// without a version sorts below every versioned entry, so a bare name finds
// it only when no versioned entry of that base exists.
//
// # Concurrency
//
// A [Registry] is safe for concurrent use by multiple goroutines, and so is
// every function of the package (a method is as safe as its type unless
// its doc says otherwise). Its lock (a sync.Mutex) serialises the writers and is held only to change the
// maps, never across a call into a [Factory]. Readers take no lock: each
// write publishes an immutable snapshot of the lookup maps (copy on write),
// so lookups scale across cores. Build reads the factory from the current
// snapshot and calls [Factory.Build] outside any lock, so a slow build
// blocks neither lookups, registrations nor other builds, and a build that
// is running when its factory is replaced or unregistered finishes on the
// factory it started with. Looking up a name that is already lower case
// does not allocate.
//
// # Errors
//
// Failures wrap one of the sentinel errors [ErrInvalidName],
// [ErrNilFactory], [ErrAlreadyRegistered], [ErrNotFound] or [ErrNilModel],
// or the error returned by [Factory.Build], with the operation and the name:
//
//	registry: lookup "mlp@2.0.0": registry: factory not found
//
// Test for them with [errors.Is].
package registry
