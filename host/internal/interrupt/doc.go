// Package interrupt rewrites a WebAssembly module so that its own code
// bounds what the host cannot: how long it runs without returning to Go,
// whether it stops when asked, how deep its call stack grows and how large
// its tables grow.
//
// Go cannot preempt a goroutine that runs compiled guest code, and neither
// can wazero without checks of its own at every loop header (their cost:
// docs/PERFORMANCE.md, section 0, "A guest stops itself").
// A guest that never returns to Go stops every other goroutine of the
// process at the next garbage collection's stop-the-world, and cannot be
// stopped at its deadline. So the rewrite makes the guest count its own
// work in fuel units (calibrated against its slowest code, see
// weights.go) and return to Go once per Period of them, check a stop flag
// the host raises from another goroutine, and count its stack in estimated
// bytes (frame.go). It adds, after everything the module defines, so that
// no index the module uses moves:
//
//	(global $stop  (mut i32) (i32.const 0))            ;; exported as __wasmreg_stop
//	(global $fuel  (mut i32) (i32.const Period))
//	(global $stack (mut i32) (i32.const StackLimit))   ;; exported as __wasmreg_stack
//	(table $yield 0 0 funcref)
//	(func $slow ...)                                   ;; checks.go
//
// and a check, one `if` each, at every function entry, every loop header,
// before every bulk memory or table operation (charged by its length), and
// wherever a path without checks would otherwise cost more than
// Period/8. The start section becomes the export __wasmreg_start, for
// the host to call under the stop flag; DWARF custom sections (".debug_*")
// are dropped, their code offsets being wrong after the rewrite; every
// other section is kept byte for byte but those the rewrite extends.
//
// What the checks cost (a predict of the digits MLP in C and in Go,
// fib(25), the Go guest's compile) and how soon hostile guests (testdata:
// loop-free recursion, a fan-out of calls, 10,000 calls a loop iteration,
// memory.fill of 64 MiB in a loop, a pointer chase through 64 MiB) return
// to Go and stop after their flag is raised are measured by
// TestMeasureCosts, TestStopsHostileGuests and TestHeartbeat, and the
// figures kept in docs/PERFORMANCE.md, section 0, "Checks at every function
// entry".
//
// While the stop flag is down, a rewritten module behaves exactly as the
// module it came from, except that a call whose estimated stack passes
// StackLimit traps (the host tells it from other traps by the exported
// __wasmreg_stack, negative after it: Plan.StackOverflowed), and that no
// table grows past TableLimit (table.grow returns -1).
//
// Everything here is safe for concurrent use: Instrument and LimitTables
// only read the Module they are given.
package interrupt
