// Command wasmreg runs sandboxed WebAssembly model factories: it builds a
// model from a factory module and answers requests with it, lists the
// factories of a directory, and inspects and validates modules against the
// wasmreg guest ABI (docs/ABI.md). Run `wasmreg --help` for the commands;
// `wasmreg run` alone runs a built-in demo.
package main

import (
	"os"

	"github.com/wasmreg/wasmreg/cmd/wasmreg/internal/app"
)

func main() {
	os.Exit(app.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
