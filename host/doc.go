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
//
// # Concurrency
//
// Every function of this package is safe for concurrent use, and every
// type's doc says whether its values are: [Host], [Factory] and [Model]
// are, options and errors are plain values. A method is as safe as its
// type unless its doc says otherwise.
//
// # Recycling
//
// A snapshotted factory (see [WithoutSnapshots]) recycles its sandboxes:
// when its model is closed cleanly with [Model.Close], the host resets the
// model's instance to the state right after _initialize and hands it to
// the next Build of the same factory, which then skips wazero's
// instantiation (most of it the Go guest's function table resolved again,
// docs/PERFORMANCE.md §9). With recycling on, small modules are
// snapshotted too, for the state to reset to. A factory keeps at most [WithRecycling]'s
// number of reset instances, [DefaultRecycling] unless told; a kept
// instance holds no instance slot and no memory budget (its written pages
// are dropped; one of a small image keeps its copy, at most 320 KiB), and
// Factory.Close and Host.Close close them.
//
// A reset must leave nothing the previous model could have changed, so a
// module is recycled only if Load proves it can be, and an instance only if
// nothing went wrong with it:
//
//   - At Load, the strict reader (package wasmbin) finds no instruction that
//     changes a table (table.set, table.grow, table.fill, table.copy,
//     table.init, elem.drop) or drops a segment (data.drop): what a reset of
//     memory and globals cannot undo. The module must be snapshotted, so
//     that every mutable global of it is exported (the snapshot rewrite)
//     and the state after _initialize is a memory image and the globals'
//     values, the same for every instance.
//   - The reset: the memory back to the image and what the model grew past
//     it zero again (linmem.Memory.Reset: a small image, of up to 256 KiB,
//     copied back; a larger one's written pages dropped, so that the image,
//     mapped copy-on-write, shows through again); the memory's length back to the image's;
//     every mutable global back to the snapshot's value, and the interrupt
//     rewrite's stop flag and stack budget to their values after
//     instantiation; the instance's WASI clocks rewound (each recycling
//     instance has fake clocks of its own, as wazero's); its stdout and
//     stderr cap refilled, no partial line kept. The call record is zeroed
//     after every call, and each Build and Predict has its own request scope,
//     ended with the call: no host-side state follows an instance.
//   - Never recycled, but closed: an instance that trapped, ran out of time
//     or was stopped (its guard fired), that a Close stopped under a running
//     call, whose build failed, whose model failed, or that called a WASI
//     function that may change state the host does not reset (closing or
//     renumbering a descriptor, opening a path, seeking…; every WASI
//     function but the stateless few is wrapped to mark the calling instance
//     so); and any instance while its factory or host is closing.
//
// Recycling changes nothing else: a recycled model is as isolated from the
// models built before it as a fresh one, and the isolation tests prove it
// by comparing the whole state, memory and globals, of recycled and fresh
// instances (recycle_internal_test.go, docs/SECURITY.md).
package host
