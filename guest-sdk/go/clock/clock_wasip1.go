//go:build wasip1

package clock

//go:wasmimport wasmreg clock_now
func now() int64

//go:wasmimport wasmreg clock_monotonic
func monotonic() int64
