// Package clock reads the time through the wasmreg host's clock capability
// (docs/ABI.md §4.2). A factory that uses it needs the "clock" grant
// (the CLI: --grant clock) and should list "clock" in its
// [wasmreg.Info.Capabilities]; one that never calls it does not import it.
//
// Outside a wasmreg host (GOOS other than wasip1) it reads the machine's
// clock, so that factory logic can be tested natively. Like the guest
// instance, the package is single-threaded.
//
// [wasmreg.Info.Capabilities]: https://pkg.go.dev/github.com/wasmreg/wasmreg/guest-sdk/go#Info
package clock

import "time"

// Now returns the wall-clock time (import clock_now).
func Now() time.Time { return time.Unix(0, now()) }

// Monotonic returns the time since an arbitrary origin fixed for the host's
// life; it never decreases (import clock_monotonic). Subtract two readings
// to measure a duration.
func Monotonic() time.Duration { return time.Duration(monotonic()) }

// Since returns the time elapsed since start, a reading of [Monotonic].
func Since(start time.Duration) time.Duration { return Monotonic() - start }
