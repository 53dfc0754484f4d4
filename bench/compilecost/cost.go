package main

// A structural estimate of wazero v1.12's compile time, in microseconds of
// CPU on the reference machine (README.md), fitted so that it is at least
// the measured time of every shape and attack this program generates
// while the function stays within the proposed per-function limits (the
// quadratic terms grow faster past them). It is what a whole-module
// CompileCost limit would bound. Apply it to the module as compiled, that
// is with the interrupt checks inserted.
//
// Per function f, with I instructions, B control instructions (block,
// loop, if, else, br_if, br_table targets: the basic blocks), L declared
// locals, H the operand stack's greatest height, C calls, G the module's
// mutable globals (each call reloads every one) and A all its globals
// (each function declares a variable for every one):
//
//	cost_f = 4 + 0.01·A + 1.2·I + C·(1.2 + 0.3·G) + 0.05·L + B·(0.03·B + 0.75·L + 0.3·H)
//
// The B·B term is the dominance walks of passBuildLoopNestingForest and
// subPassLoopDetection, B·L the phis the SSA builder creates for each local
// at each merge, B·H the register allocator's live-in lists. Per module it
// adds 2.3 per type and 1.4 per param or result, 0.4 per import, 0.6 per
// export, 0.25 per global, 0.25 per data segment, 0.45 per element segment.
func functionCost(s funcStats, mutableGlobals, globals int) float64 {
	return 4 + 0.01*float64(globals) + 1.2*float64(s.instrs) + float64(s.calls)*(1.2+0.3*float64(mutableGlobals)) +
		0.05*float64(s.locals) + costDepth*s.depthSum + costPhi*float64(s.locals)*float64(s.merges) +
		costLive*float64(s.height)*float64(s.blocks) + costTarget*float64(s.brTargets) + costPreds*s.predSquares
}

// The quadratic terms' coefficients, in microseconds.
const (
	costDepth  = 0.06
	costPhi    = 0.85
	costLive   = 0.3
	costTarget = 6
	costPreds  = 0.0005
)

// moduleCost is the estimate for a whole module, in microseconds.
func moduleCost(wasm []byte) (float64, error) {
	mi, sh, err := parse(wasm, false)
	if err != nil {
		return 0, err
	}
	total := 0.0
	for _, b := range mi.bodies {
		total += functionCost(b.stats, sh.MutableGlobals, sh.Globals+mi.importedGlobals)
	}
	for _, t := range mi.tc.types {
		total += 2.3 + 1.4*float64(t.params+t.results)
	}
	total += 0.4*float64(sh.Imports) + 0.6*float64(sh.Exports) + 0.25*float64(sh.Globals) +
		0.25*float64(sh.DataSegments) + 0.45*float64(sh.ElementSegments)
	return total, nil
}

// withinFunctionLimits reports whether every function of sh stays within
// the per-function limits of l, where the estimate holds.
func withinFunctionLimits(sh shape, l limits) bool {
	return sh.MaxInstructions <= l.InstructionsPerFunction && sh.ControlPerFunction <= l.ControlPerFunction &&
		sh.LocalsPerFunction <= l.LocalsPerFunction && sh.StackHeight <= l.StackHeight &&
		sh.BlockDepth <= l.BlockDepth && sh.LoopsPerFunction <= l.LoopsPerFunction &&
		sh.BrTableTargets <= l.BrTableTargets && sh.MutableGlobals <= l.MutableGlobals+3 &&
		sh.ParamsResults <= l.ParamsResults
}

// modelRow compares one measured point with the estimate.
type modelRow struct {
	Shape    string  `json:"shape"`
	N        int     `json:"n"`
	Checked  bool    `json:"checked"`
	Measured float64 `json:"measured_s"`
	Model    float64 `json:"model_s"`
	Within   bool    `json:"within_function_limits"`
}

// withCost returns the shape of wasm with Cost, the estimate for wasm with
// the interrupt checks inserted, as the host compiles it.
func withCost(wasm []byte) (shape, error) {
	_, sh, err := parse(wasm, false)
	if err != nil {
		return sh, err
	}
	checked, err := instrument(wasm)
	if err != nil {
		return sh, err
	}
	sh.Cost, err = moduleCost(checked)
	return sh, err
}
