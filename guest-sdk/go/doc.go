// Package wasmreg is the Go guest SDK of wasmreg: it turns a Go main
// package into a wasmreg factory, a WebAssembly module that speaks the
// guest ABI v1 of docs/ABI.md.
//
// A factory registers its metadata and a [BuildFunc] from an init function;
// the SDK supplies every export the ABI asks for (wasmreg_abi_version,
// wasmreg_info, wasmreg_build, wasmreg_predict) with //go:wasmexport, and
// Go's c-shared build mode supplies _initialize and the memory:
//
//	package main
//
//	import wasmreg "github.com/wasmreg/wasmreg/guest-sdk/go"
//
//	func main() {}
//
//	func init() {
//		wasmreg.Register(wasmreg.Info{Name: "echo", Version: "1.0.0"},
//			func(config []byte) (wasmreg.Model, error) {
//				return wasmreg.ModelFunc(func(in []byte) ([]byte, error) { return in, nil }), nil
//			})
//	}
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o echo.wasm .
//
// The host builds every model in a fresh instance of the module, so a
// factory holds one model at a time: wasmreg_build stores the [Model] that
// the BuildFunc returns, and each wasmreg_predict calls its Predict. An
// error returned by Build or Predict fails the call with its message and
// return code 1, or the code of an [Error]; a panic is recovered and fails
// the call the same way, with the panic's message, and the instance stays
// usable.
//
// The capabilities of docs/ABI.md §4.2 have typed clients in the
// subpackages log, clock, random and artifact. Each imports only its own
// host functions, and Go's linker drops those a factory never calls, so a
// factory imports, and needs granted, only what it uses.
//
// The SDK is single-threaded like the guest instance it runs in: the host
// never calls two exports of one instance at once, and nothing in this
// package is safe for concurrent use by multiple goroutines.
//
// Outside a wasmreg host (GOOS other than wasip1) the package still
// compiles, so that go vet and native unit tests of a factory's logic work:
// [Metadata], [CallBuild] and [CallPredict] run what the exports would run.
package wasmreg
