//go:build wasip1

package wasmreg

import "github.com/wasmreg/wasmreg/guest-sdk/go/internal/abi"

// The exports of docs/ABI.md §2. Go's -buildmode=c-shared adds _initialize,
// which runs the package init functions (and so Register), and the memory.

//go:wasmexport wasmreg_abi_version
func exportABIVersion() int32 { return ABIVersion }

//go:wasmexport wasmreg_info
func exportInfo() int32 {
	md, err := Metadata()
	if err != nil {
		return fail(err)
	}
	abi.Output(md)
	return 0
}

//go:wasmexport wasmreg_build
func exportBuild(n int32) int32 {
	return fail(CallBuild(abi.Input(n)))
}

//go:wasmexport wasmreg_predict
func exportPredict(n int32) int32 {
	out, err := CallPredict(abi.Input(n))
	if err != nil {
		return fail(err)
	}
	abi.Output(out)
	return 0
}

// fail gives err's message to the host and returns its code; 0 for nil.
func fail(err error) int32 {
	code, msg := outcome(err)
	if msg != "" {
		abi.SetError(msg)
	}
	return code
}
