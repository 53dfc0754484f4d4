// Package host is wasmreg's WebAssembly host: it loads factory modules that
// speak the wasmreg guest ABI v1 (docs/ABI.md) with wazero, and builds
// sandboxed models from them.
//
// A [Host] owns one wazero runtime. [Host.Load] compiles a module once,
// checks its imports and exports against the ABI and the capabilities the
// host grants, reads the factory's metadata, and returns a [Factory].
// [Factory.Build] instantiates a fresh, private module instance for every
// model, outside any lock, and calls the guest's wasmreg_build with the
// configuration; the instance is the [Model], and [Model.Predict] calls
// wasmreg_predict on it. Compile once, instantiate many.
//
// Every Build and every Predict runs in its own request scope of the host's
// dependency-injection container (package [github.com/wasmreg/wasmreg/di]):
// the capabilities a guest calls (clock, random, artifact, log) are resolved
// from that scope, so two requests running at the same time never share a
// request-scoped value, such as the random stream.
//
// Safe defaults: 64 MiB of linear memory per instance, 30 s per guest call,
// 16 MiB of input and of output per call, bounded log lines and error
// messages, and capabilities denied unless granted with [WithGrants].
// A guest that traps, runs out of time or breaks a limit fails its call with
// a [*CallError] and has its instance closed; the host and every other model
// keep working.
package host
