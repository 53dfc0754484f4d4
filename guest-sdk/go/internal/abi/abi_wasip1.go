//go:build wasip1

package abi

import "unsafe"

// The raw imports. The linker keeps only those a factory reaches, which
// matters for the capability imports of the other packages: the host
// refuses a module that imports a capability it has not granted.

//go:wasmimport wasmreg input
func hostInput(ptr unsafe.Pointer)

//go:wasmimport wasmreg output
func hostOutput(ptr unsafe.Pointer, n uint32)

//go:wasmimport wasmreg error
func hostError(ptr unsafe.Pointer, n uint32)

//go:wasmimport wasmreg log
func hostLog(level int32, ptr unsafe.Pointer, n uint32)

// Input returns the current call's input, whose length the export received
// as its len parameter.
func Input(n int32) []byte {
	if n <= 0 {
		return []byte{}
	}
	b := make([]byte, n)
	hostInput(unsafe.Pointer(&b[0]))
	return b
}

// Output appends b to the current call's result.
func Output(b []byte) {
	if len(b) > 0 {
		hostOutput(unsafe.Pointer(&b[0]), uint32(len(b)))
	}
}

// SetError sets the current call's error message.
func SetError(msg string) {
	hostError(unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}

// Log writes one log line at level.
func Log(level int32, msg string) {
	hostLog(level, unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}
