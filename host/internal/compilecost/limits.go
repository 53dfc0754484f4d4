package main

import (
	"fmt"

	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// proposed are the limits the measurements argue for (README.md): the
// host's defaults, wasmbin.DefaultLimits, which the worst-case mode builds
// the worst modules under.
var proposed = wasmbin.DefaultLimits()

// moduleBytes is the host's default module size limit
// (host.DefaultModuleSizeLimit), which the worst-case mode also respects.
const moduleBytes = 64 << 20

// perFunction keeps of l the limits within which the estimate holds: those
// of one function, and the counts that multiply a function's cost.
func perFunction(l wasmbin.Limits) wasmbin.Limits {
	return wasmbin.Limits{
		ParamsResults: l.ParamsResults, MutableGlobals: l.MutableGlobals,
		LocalsPerFunction: l.LocalsPerFunction, FunctionBodyBytes: l.FunctionBodyBytes,
		InstructionsPerFunction: l.InstructionsPerFunction, ControlPerFunction: l.ControlPerFunction,
		StackHeight: l.StackHeight, BlockDepth: l.BlockDepth, LoopsPerFunction: l.LoopsPerFunction,
		BrTableTargets: l.BrTableTargets,
	}
}

// withinFunctionLimits reports whether wasm, as written (the host checks
// the limits before the rewrite), stays within the per-function limits of
// l, where the estimate holds.
func withinFunctionLimits(wasm []byte, l wasmbin.Limits) bool {
	_, err := wasmbin.Decode(wasm, perFunction(l))
	return err == nil
}

// admits checks wasm as the host does: its structure against l as
// written, then the estimate for it with the interrupt checks against
// l.CompileCost.
func admits(wasm []byte, l wasmbin.Limits) error {
	if _, err := wasmbin.Decode(wasm, l); err != nil {
		return err
	}
	checked, err := instrument(wasm)
	if err != nil {
		return fmt.Errorf("the interrupt rewrite refuses it: %w", err)
	}
	_, err = wasmbin.Decode(checked, wasmbin.Limits{CompileCost: l.CompileCost})
	return err
}
