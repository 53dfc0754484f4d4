package abi

// Unavailable is the panic message of a capability used outside a wasmreg
// host.
func Unavailable(capability string) string {
	return "wasmreg: " + capability + " is only available inside a wasmreg host"
}
