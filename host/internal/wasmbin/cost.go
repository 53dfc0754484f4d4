package wasmbin

import "math"

// The compile-cost estimate: an upper bound, from a module's structure, of
// the CPU time wazero v1.12's compiler takes on it, in microseconds of the
// 2-core reference machine. host/internal/compilecost measured each term
// (its README has the figures) and the coefficients are fitted so that
// the estimate is at least the measured time of every shape it generates
// while each function stays within the per-function limits of
// DefaultLimits: past them some costs grow faster than the estimate does
// (2,560 locals across 128 loops take 4 times what 64 loops take), which
// is why those limits stay. It overestimates Go's code by 1.7 times, C's
// by 1.4 (5 at -O0, whose many locals live across few merges).
//
// Per function, with I instructions, C calls, L locals (params
// included), H the operand stack's greatest height, N loops, K basic
// blocks, M merge blocks, D the sum of the blocks' dominator-depth bounds,
// P the sum of the squares of the blocks' predecessor counts, T br_table
// targets, G the module's mutable globals and A all its globals:
//
//	cost_f = 4 + 0.01·A + 0.6·I + C·(2.2 + 0.3·G) + 1.5·L + 3·H + 0.06·D
//	         + L·M·(0.95 + 0.001·L + 4e-9·L²·N) + 0.3·H·K + 6·T + 0.0005·P
//
// D stands for wazero's dominance and loop-nesting walks, which climb the
// dominator tree from every block; L·M for the phis its SSA builder
// creates for each local at each merge, and their resolution, which grows
// with L (and with L²·N across loops); H·K for the register allocator's
// live-in lists; C·G for the reload of every mutable global after each
// call; P for the scan of a block's predecessors as each is added. Per
// module it adds 3,000, 2.3 per type and 1.4 per param or result, 0.4 per
// import, 0.6 per export, 0.25 per defined global, 0.25 per data segment
// and 0.45 per element segment.
const (
	costModule      = 3000
	costFunction    = 4
	costGlobal      = 0.01 // per global, per function
	costInstruction = 0.6
	costCall        = 2.2
	costCallMutable = 0.3 // per call and mutable global
	costLocal       = 1.5
	costHeight      = 3
	costDepth       = 0.06
	costPhi         = 0.95
	costPhiLocal    = 0.001 // per local, per local and merge
	costPhiLoop     = 4e-9  // per local², loop, local and merge
	costLive        = 0.3
	costTarget      = 6
	costPreds       = 0.0005

	costType          = 2.3
	costTypeValue     = 1.4
	costImport        = 0.4
	costExport        = 0.6
	costDefinedGlobal = 0.25
	costData          = 0.25
	costElement       = 0.45
)

// funcTerms are the figures of one function the estimate reads.
type funcTerms struct {
	Instructions, Calls, Locals, Height, Loops   float64
	Blocks, Merges, BrTargets, DepthSum, PredSqs float64
	Globals, MutableGlobals                      float64
}

// functionCost is the estimate for one function, in microseconds.
func functionCost(t funcTerms) float64 {
	return costFunction + costGlobal*t.Globals + costInstruction*t.Instructions +
		t.Calls*(costCall+costCallMutable*t.MutableGlobals) + costLocal*t.Locals + costHeight*t.Height + costDepth*t.DepthSum +
		t.Locals*t.Merges*(costPhi+costPhiLocal*t.Locals+costPhiLoop*t.Locals*t.Locals*t.Loops) +
		costLive*t.Height*t.Blocks +
		costTarget*t.BrTargets + costPreds*t.PredSqs
}

// codeCost is the estimate for defined function i, whose body Decode has
// counted into c.
func (m *Module) codeCost(i int, c *Code, mutable uint32) float64 {
	params := len(m.Types[m.Functions[i]].Params)
	return functionCost(funcTerms{
		Instructions: float64(c.Instructions), Calls: float64(c.Calls),
		Locals: float64(params) + float64(c.NumLocals), Height: float64(c.MaxHeight), Loops: float64(c.Loops),
		Blocks: float64(c.Blocks), Merges: float64(c.Merges), BrTargets: float64(c.BrTargets),
		DepthSum: float64(c.DepthSum), PredSqs: float64(c.PredSquares),
		Globals: float64(m.NumGlobals()), MutableGlobals: float64(mutable),
	})
}

// fixedCost is the estimate's module-level part, without the data
// segments' share: all of it the sections before the code section decide.
func (m *Module) fixedCost() float64 {
	c := float64(costModule)
	for _, t := range m.Types {
		c += costType + costTypeValue*float64(len(t.Params)+len(t.Results))
	}
	return c + costImport*float64(len(m.Imports)) + costExport*float64(len(m.Exports)) +
		costDefinedGlobal*float64(len(m.Globals)) + costElement*float64(len(m.Elements))
}

// CompileCost returns the estimate of the CPU time wazero v1.12's
// compiler takes on the module, in microseconds (see the top of cost.go):
// an upper bound for any module within the per-function limits of
// DefaultLimits, on the machine the coefficients were measured on. It is
// the estimate for these bytes: a host that compiles a rewritten module
// must ask the rewritten module's. A Module that Decode did not return
// has no per-function figures and gets only the module-level part.
func (m *Module) CompileCost() uint64 { return ceilCost(m.compileCost()) }

// compileCost is CompileCost before rounding, summed as Decode sums it.
func (m *Module) compileCost() float64 {
	code := 0.0
	for i := range m.Code {
		code += m.Code[i].Cost
	}
	return code + (m.fixedCost() + costData*float64(len(m.Data)))
}

// ceilCost rounds an estimate up to whole microseconds.
func ceilCost(c float64) uint64 {
	if c >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(math.Ceil(c))
}

// addSat adds without wrapping past 2^64-1.
func addSat(x, y uint64) uint64 {
	if s := x + y; s >= x {
		return s
	}
	return math.MaxUint64
}

// What the Reader follows for the estimate, when stats is set: the basic
// blocks wazero's SSA builder creates for the body and, for each, a bound
// of its depth in the dominator tree. A block's immediate dominator is the
// common ancestor of its predecessors, so no deeper than the shallowest of
// them: a merge block is at most one deeper than its shallowest
// predecessor. wazero emits nothing for unreachable code, so neither does
// the Reader count blocks there.

// addControl counts n control instructions, under ControlPerFunction.
func (r *Reader) addControl(n uint32) bool {
	c := uint64(r.control) + uint64(n)
	if c > uint64(r.maxControl) {
		r.failLimit("ControlPerFunction", c, uint64(r.lim.ControlPerFunction))
		return false
	}
	r.control = uint32(c)
	return true
}

// block starts a basic block of dominator-depth bound depth.
func (r *Reader) block(depth uint32) {
	r.cfgDepth, r.dead = depth, false
	r.blocks++
	r.depthSum = addSat(r.depthSum, uint64(depth))
}

// branch records a branch to label from a block of depth bound from.
func (r *Reader) branch(label, from uint32) {
	f := &r.ctl[len(r.ctl)-1-int(label)]
	if f.op == 0x03 {
		f.back++
		return
	}
	f.minPred = min(f.minPred, from)
	f.preds++
}

// cfgElse ends an if's then arm (f) and starts its else arm.
func (r *Reader) cfgElse(f *frame) {
	if f.dead {
		return
	}
	if !r.dead {
		f.minPred = min(f.minPred, r.cfgDepth)
		f.preds++
	}
	r.block(f.ifDepth + 1)
}

// cfgEnd closes block f (popped already) and starts the block after it.
func (r *Reader) cfgEnd(f *frame) {
	if f.dead {
		r.dead = true
		return
	}
	if f.op == 0x03 && f.back > 0 { // the header merges entry and back edges
		r.merges++
		n := uint64(f.back) + 1
		r.predSquares = addSat(r.predSquares, n*n)
	}
	if !r.dead {
		f.minPred = min(f.minPred, r.cfgDepth)
		f.preds++
	}
	if f.op == 0x04 { // an if without else: its condition's false edge
		f.minPred = min(f.minPred, f.ifDepth)
		f.preds++
	}
	if f.preds == 0 {
		r.dead = true
		return
	}
	if f.preds > 1 {
		r.merges++
	}
	r.predSquares = addSat(r.predSquares, uint64(f.preds)*uint64(f.preds))
	r.block(f.minPred + 1)
}
