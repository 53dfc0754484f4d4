// Package snapshot rewrites a module so that its initialised state can be
// captured once and every build can start from a copy of it, and takes and
// restores those snapshots.
//
// A Go guest's instantiation is mostly wazero applying its tens of
// thousands of data segments and Go's runtime initialising itself in
// _initialize (docs/PERFORMANCE.md, section 1, "Snapshots", holds the
// counts and the shares of the time). Both give the same result every time
// when the guest cannot observe randomness or time and _initialize leaves
// the tables as instantiation made them, which no module with an
// instruction that changes a table can promise (the strict reader counts
// them: wasmbin.Code.StateOps). Such a module, on a host that grants
// neither random nor clock, is compiled from the module [Rewrite] makes:
// every mutable global exported (names starting with [GlobalPrefix]), the
// data section emptied, no start section. The host rewrites every module
// of [MinSize] or more, the size at which a snapshot pays for itself, and
// every smaller one when it recycles instances, whose reset needs the
// snapshot's state to go back to. The host instantiates it once at Load,
// applies the data segments by hand ([Plan.Apply]), runs _initialize and
// keeps the memory image and the globals' values ([Plan.Take]; the idea
// behind Wizer); every build then starts a fresh instance from a copy of
// them instead ([Snapshot.Restore], with the memory made by package linmem
// from [Snapshot.Image]). Each build still gets its own instance and its
// own copy of the memory, so it is exactly as isolated as a fresh one.
//
// Rewrite reads a module the strict reader (package wasmbin) has decoded,
// so every section it keeps is valid; it refuses, wrapping [ErrNotSuited],
// whatever it cannot copy from one instance to another. The host falls
// back to building without a snapshot, and says why in its log, whenever
// Rewrite refuses a module or Take fails.
package snapshot
