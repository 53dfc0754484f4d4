//go:build wasip1

package random

import "unsafe"

//go:wasmimport wasmreg random_fill
func hostRandomFill(ptr unsafe.Pointer, n uint32)

//go:wasmimport wasmreg random_seed
func hostRandomSeed(seed uint64)

func seedStream(seed uint64) { hostRandomSeed(seed) }

// fill asks for at most 1 GiB per import call, since len is an i32.
func fill(p []byte) {
	for len(p) > 0 {
		n := min(len(p), 1<<30)
		hostRandomFill(unsafe.Pointer(&p[0]), uint32(n))
		p = p[n:]
	}
}
