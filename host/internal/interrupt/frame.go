package interrupt

import (
	"sort"

	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// Estimating a function's stack frame under wazero v1.12 (amd64; arm64's
// frames are laid out alike).
//
// wazero's frame is its return address and frame pointer, a slot for the
// stack check, the callee-saved registers it uses (at most 13, 16 bytes
// each), the stack arguments and results of the calls it makes, and one
// spill slot for every SSA value its register allocator ever spills
// (backend/isa/amd64/machine.go, spillSlots): slots are not shared between
// values, so the frame grows with the number of values that live across a
// call or under register pressure, not with the locals alone. Which values
// are spilled depends on the allocator; what can be bounded is how many
// values there are. They are:
//
//   - the parameters and locals (their initial values);
//   - one per value an instruction pushes (local.get and local.tee push
//     an SSA value that already exists);
//   - the block parameters (phis) at each merge: wazero builds SSA by
//     Braun et al.'s algorithm and drops a phi whose inputs are all the
//     same value, so a block, loop or if has at most one phi for each
//     distinct local set inside it (a local set nowhere inside has the
//     same value on every edge), one for each of its params and results,
//     and, if a call, memory.grow or global.set happens inside, one for
//     each mutable global and two for the memory's base and length, which
//     wazero reloads after those.
//
// The last is what makes frames grow faster than the code: L locals set
// in the innermost of K nested ifs, each if followed by a call, give L·K
// phis all live across calls, so the frame is quadratic in the body (a
// 2 KB module with L = K = 100 v128 locals has a 157 KB frame). Counting
// the distinct locals set inside each block (a Fenwick tree over the
// positions of the sets) finds exactly that, where counting sets times
// their depth would be too pessimistic for the dispatch loops of Go's
// wasm code.
//
// A value takes 8 bytes, 16 if it may be a v128 (SIMD results, selects,
// v128 locals, params and globals). TestFrameEstimate measures real frames
// of shapes built to stress each term (the heap growth of one deep
// recursion: wazero's stack is a Go []byte that doubles) and checks that
// the estimate bounds them; TestRealModulesStack checks that real guests
// do their ordinary work far from the limit.

// frameFixed is the part of every frame that does not depend on the code:
// return address, frame pointer and the stack check's slot. Each
// callee-saved register the function uses (at most 13, one per value at
// most) adds 16 bytes.
const frameFixed = 16 + 16

// checkValues is the values of each check the rewrite adds: the counters
// and the flag.
const checkValues = 3

type frameEstimator struct {
	m           *wasmbin.Module
	globalTypes []wasmbin.ValType // every global, imported first
	mutable     []bool            // every global's mutability

	// per function
	params     []wasmbin.ValType
	code       *wasmbin.Code
	declEnds   []uint32 // index past the last local of each declaration
	fen        []int64  // Fenwick tree of the bytes of the last set of each local, by position
	last       []int32  // per local: the position of its last set
	lastGen    []uint32 // per local: gen when last was written
	gen        uint32
	ctl        []fctl
	values     uint64 // bytes of the values instructions push
	count      uint64 // number of values, of every kind
	argArea    uint64
	phis       uint64 // bytes of the phis of locals, params and results
	paramBytes uint64
	localBytes uint64
	// The phis of globals and of the memory's base and length, which
	// wazero reloads after a call, memory.grow or global.set: at most one
	// for each of those the function reads, at each block with one of
	// those inside.
	callBlocks  uint64
	globalsRead []uint32 // mutable globals read, the function's own mark in globalMark
	globalMark  []uint32
	usesMemory  bool
}

type fctl struct {
	start     int
	typeBytes uint64
	calls     bool // a call, memory.grow or global.set inside
	fn        bool // the function's own block
}

func valueBytes(t wasmbin.ValType) uint64 {
	if t == wasmbin.V128 {
		return 16
	}
	return 8
}

func typesBytes(ts []wasmbin.ValType) uint64 {
	n := uint64(0)
	for _, t := range ts {
		n += valueBytes(t)
	}
	return n
}

func (fe *frameEstimator) init(m *wasmbin.Module) {
	fe.m = m
	for _, imp := range m.Imports {
		if imp.Kind == wasmbin.KindGlobal {
			fe.globalTypes = append(fe.globalTypes, imp.Global.Type)
			fe.mutable = append(fe.mutable, imp.Global.Mutable)
		}
	}
	for _, g := range m.Globals {
		fe.globalTypes = append(fe.globalTypes, g.Type.Type)
		fe.mutable = append(fe.mutable, g.Type.Mutable)
	}
	fe.globalMark = make([]uint32, len(fe.globalTypes))
}

// begin starts the estimate of a function of type ft.
func (fe *frameEstimator) begin(ft wasmbin.FuncType, code *wasmbin.Code) {
	fe.params, fe.code = ft.Params, code
	fe.declEnds = fe.declEnds[:0]
	end := uint32(len(ft.Params))
	fe.localBytes = 0
	for _, d := range code.Locals {
		end += d.Count
		fe.declEnds = append(fe.declEnds, end)
		fe.localBytes += uint64(d.Count) * valueBytes(d.Type)
	}
	fe.paramBytes = typesBytes(ft.Params)
	n := int(code.Instructions) + 1
	if cap(fe.fen) < n {
		fe.fen = make([]int64, n)
	}
	fe.fen = fe.fen[:n]
	clear(fe.fen)
	locals := int(end)
	if cap(fe.last) < locals {
		fe.last = make([]int32, locals)
		fe.lastGen = make([]uint32, locals)
	}
	fe.last, fe.lastGen = fe.last[:locals], fe.lastGen[:locals]
	fe.gen++
	if fe.gen == 0 { // wrapped: forget every old mark
		clear(fe.lastGen[:cap(fe.lastGen)])
		fe.gen = 1
	}
	// The function's own block and the rewrite's wrapper: both merge the
	// results.
	fe.ctl = append(fe.ctl[:0], fctl{typeBytes: 2 * typesBytes(ft.Results), fn: true})
	fe.values, fe.count, fe.argArea, fe.phis = 0, 0, 0, 0
	fe.callBlocks, fe.globalsRead, fe.usesMemory = 0, fe.globalsRead[:0], false
}

func (fe *frameEstimator) localType(x uint32) wasmbin.ValType {
	if x < uint32(len(fe.params)) {
		return fe.params[x]
	}
	d := sort.Search(len(fe.declEnds), func(i int) bool { return fe.declEnds[i] > x })
	if d < len(fe.code.Locals) {
		return fe.code.Locals[d].Type
	}
	return wasmbin.V128 // not reached: Decode checked the index
}

func (fe *frameEstimator) fenAdd(pos int, v int64) {
	for i := pos + 1; i < len(fe.fen); i += i & -i {
		fe.fen[i] += v
	}
}

// fenSum returns the sum of positions [0, pos].
func (fe *frameEstimator) fenSum(pos int) int64 {
	s := int64(0)
	for i := pos + 1; i > 0; i -= i & -i {
		s += fe.fen[i]
	}
	return s
}

func (fe *frameEstimator) blockTypeBytes(bt int64) uint64 {
	switch {
	case bt == -64:
		return 0
	case bt == -5: // v128
		return 16
	case bt < 0:
		return 8
	case bt < int64(len(fe.m.Types)):
		t := fe.m.Types[bt]
		return typesBytes(t.Params) + typesBytes(t.Results)
	}
	return 0
}

func (fe *frameEstimator) markCalls() { fe.ctl[len(fe.ctl)-1].calls = true }

func (fe *frameEstimator) call(t wasmbin.FuncType) {
	fe.markCalls()
	fe.values += typesBytes(t.Results)
	fe.count += uint64(len(t.Results))
	// wazero passes the execution and module contexts, then 7 integer and
	// 8 float params in registers, and 9 integer and 8 float results; the
	// rest on the stack, below the return address and frame pointer.
	stack := stackArgs(t.Params, 7, 8) + stackArgs(t.Results, 9, 8)
	fe.argArea = max(fe.argArea, 16+(stack+15)&^15)
}

// stackArgs returns the stack bytes of values ts of which ints integers
// and floats floats go in registers.
func stackArgs(ts []wasmbin.ValType, ints, floats int) uint64 {
	n := uint64(0)
	for _, t := range ts {
		switch t {
		case wasmbin.F32, wasmbin.F64, wasmbin.V128:
			if floats--; floats < 0 {
				n += valueBytes(t)
			}
		default:
			if ints--; ints < 0 {
				n += 8
			}
		}
	}
	return n
}

// add counts instruction in at position pos.
func (fe *frameEstimator) add(pos int, in *wasmbin.Instr) {
	m := fe.m
	switch op := in.Op; op {
	case wasmbin.OpBlock, wasmbin.OpLoop, wasmbin.OpIf:
		fe.ctl = append(fe.ctl, fctl{start: pos, typeBytes: fe.blockTypeBytes(in.BlockType)})
	case wasmbin.OpEnd:
		c := fe.ctl[len(fe.ctl)-1]
		fe.ctl = fe.ctl[:len(fe.ctl)-1]
		locals := uint64(fe.fenSum(pos) - fe.fenSum(c.start-1))
		fe.phis += locals + c.typeBytes
		fe.count += locals/8 + c.typeBytes/8
		if c.calls {
			fe.callBlocks++
			if len(fe.ctl) > 0 {
				fe.markCalls()
			}
		}
		if c.fn { // the function's own: count it twice, with the wrapper
			fe.phis += locals
			fe.count += locals / 8
			if c.calls {
				fe.callBlocks++
			}
		}
	case 0x21, 0x22: // local.set, local.tee
		x := in.Index
		if x < uint32(len(fe.last)) {
			b := int64(valueBytes(fe.localType(x)))
			if fe.lastGen[x] == fe.gen {
				fe.fenAdd(int(fe.last[x]), -b)
			}
			fe.fenAdd(pos, b)
			fe.last[x], fe.lastGen[x] = int32(pos), fe.gen
		}
	case wasmbin.OpCall:
		if t, ok := m.FuncType(in.Index); ok {
			fe.call(t)
		}
	case wasmbin.OpCallIndirect:
		if in.Index < uint32(len(m.Types)) {
			fe.call(m.Types[in.Index])
		}
	case 0x23: // global.get
		if g := in.Index; g < uint32(len(fe.globalTypes)) {
			fe.values += valueBytes(fe.globalTypes[g])
			fe.count++
			if fe.mutable[g] && fe.globalMark[g] != fe.gen {
				fe.globalMark[g] = fe.gen
				fe.globalsRead = append(fe.globalsRead, g)
			}
		}
	default:
		if op == 0x24 || op == 0x40 { // global.set, memory.grow
			fe.markCalls()
		}
		if b := pushBytes(op); b > 0 {
			fe.values += b
			fe.count++
		}
		fe.usesMemory = fe.usesMemory || usesMemory(op)
	}
}

// usesMemory reports whether op reads the memory's base or length.
func usesMemory(op wasmbin.Op) bool {
	switch {
	case op&wasmbin.OpSIMD == wasmbin.OpSIMD:
		sub := byte(op)
		return sub <= 0x0b || sub >= 0x54 && sub <= 0x5d
	case op&wasmbin.OpMisc == wasmbin.OpMisc:
		sub := uint32(op &^ wasmbin.OpMisc)
		return sub >= 8 && sub <= 11
	}
	b := byte(op)
	return b >= 0x28 && b <= 0x40
}

// pushBytes is the bytes of the value an instruction other than those
// add handles itself pushes, 0 if none.
func pushBytes(op wasmbin.Op) uint64 {
	switch {
	case op&wasmbin.OpSIMD == wasmbin.OpSIMD:
		if sub := byte(op); sub == 0x0b || sub >= 0x58 && sub <= 0x5b { // stores
			return 0
		}
		return 16
	case op&wasmbin.OpMisc == wasmbin.OpMisc:
		if sub := uint32(op &^ wasmbin.OpMisc); sub <= 7 || sub == 15 || sub == 16 { // trunc_sat, table.grow, table.size
			return 8
		}
		return 0
	}
	switch b := byte(op); {
	case b == 0x1b, b == 0x1c: // select, which may select v128s
		return 16
	case b == 0x25, // table.get
		b >= 0x28 && b <= 0x35, // loads
		b >= 0x3f && b <= 0xc4, // memory.size, memory.grow, constants, numeric
		b >= 0xd0 && b <= 0xd2: // ref.null, ref.is_null, ref.func
		return 8
	}
	return 0
}

// finish returns the estimate, the rewrite's own additions to the
// function (p's checks and its scratch local) included.
func (fe *frameEstimator) finish(p *funcPlan) uint32 {
	checks := uint64(1 + p.loops + p.bulk + p.checkpoints)
	// The globals a phi may be made for: those the function reads, the
	// three the checks read, and the memory's base and length.
	globals := uint64(3 * 8)
	for _, g := range fe.globalsRead {
		globals += valueBytes(fe.globalTypes[g])
	}
	if fe.usesMemory {
		globals += 16
	}
	calls := fe.callBlocks + checks // each check's if calls $slow
	count := fe.count + uint64(len(fe.params)) + fe.localBytes/8 + checks*checkValues + calls*globals/8 + 2
	e := uint64(frameFixed) + 16*min(13, count) + max(fe.argArea, 16) +
		fe.paramBytes + fe.localBytes + fe.values + fe.phis + checks*checkValues*8 + calls*globals
	e += 8 // $saved
	if p.scratch {
		e += 8
	}
	return uint32(min(e, 1<<31))
}
