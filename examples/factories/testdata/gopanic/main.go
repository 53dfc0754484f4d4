// Command gopanic is a test factory of the Go guest SDK whose Register
// panics at init, for the tests of a trap's reason: Go's runtime writes
// "panic: wasmreg: Register: …" to stderr and the module traps in
// _initialize, before any export. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o gopanic.wasm ./examples/factories/testdata/gopanic
package main

import (
	wasmreg "github.com/wasmreg/wasmreg/guest-sdk/go"
)

func main() {}

func init() {
	wasmreg.Register(wasmreg.Info{Name: "bad name!", Version: "1.0.0"}, func([]byte) (wasmreg.Model, error) {
		return nil, nil
	})
}
