package main

import (
	"errors"
	"fmt"
	"math"
)

// A reader of just enough of the binary format to describe a module's
// shape (the figures the structural limits bound) and to insert the
// interrupt checks. It decodes every instruction that wazero v1.12's
// default core features (api.CoreFeaturesV2) accept, SIMD included.
// Real and generated modules are its only inputs; it is not the strict
// reader the host uses, but it must not panic on any bytes (FuzzShape).

var errMalformed = errors.New("compilecost: malformed module")

type reader struct {
	b   []byte
	pos int
}

func (r *reader) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errMalformed, what, r.pos)
}

func (r *reader) byte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, r.fail("unexpected end")
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

func (r *reader) bytes(n uint64) ([]byte, error) {
	if n > uint64(len(r.b)-r.pos) {
		return nil, r.fail("length past the end")
	}
	s := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s, nil
}

// uleb reads an unsigned LEB128 of at most bits bits.
func (r *reader) uleb(bits uint) (uint64, error) {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= bits+7 || shift >= 64 {
			return 0, r.fail("LEB128 too long")
		}
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if bits < 64 && v>>bits != 0 {
				return 0, r.fail("LEB128 out of range")
			}
			return v, nil
		}
	}
}

func (r *reader) u32() (uint32, error) {
	v, err := r.uleb(32)
	return uint32(v), err
}

// sleb reads a signed LEB128 of at most bits bits; only its length matters
// here, so the value is not sign-extended.
func (r *reader) sleb(bits uint) error {
	for shift := uint(0); ; shift += 7 {
		if shift >= bits+7 {
			return r.fail("signed LEB128 too long")
		}
		c, err := r.byte()
		if err != nil {
			return err
		}
		if c&0x80 == 0 {
			return nil
		}
	}
}

// valType reads a value type: one byte, or a reference type's prefix and
// heap type.
func (r *reader) valType() error {
	c, err := r.byte()
	if err != nil {
		return err
	}
	switch c {
	case i32, i64, f32, f64, v128, funcref, 0x6f, 0x69:
		return nil
	case 0x63, 0x64:
		return r.sleb(33)
	}
	return r.fail(fmt.Sprintf("value type 0x%x", c))
}

// limits reads a table's or memory's limits and returns the minimum.
func (r *reader) limits() (uint64, error) {
	flags, err := r.u32()
	if err != nil {
		return 0, err
	}
	min, err := r.uleb(64)
	if err != nil {
		return 0, err
	}
	if flags&1 != 0 {
		if _, err := r.uleb(64); err != nil {
			return 0, err
		}
	}
	return min, nil
}

// sectionBytes is one section: its id and payload.
type sectionBytes struct {
	id      byte
	payload []byte
}

func splitSections(wasm []byte) ([]sectionBytes, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" || string(wasm[4:8]) != "\x01\x00\x00\x00" {
		return nil, fmt.Errorf("%w: not a version 1 module", errMalformed)
	}
	r := &reader{b: wasm, pos: 8}
	var out []sectionBytes
	for r.pos < len(wasm) {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		p, err := r.bytes(uint64(n))
		if err != nil {
			return nil, err
		}
		out = append(out, sectionBytes{id, p})
	}
	return out, nil
}

// funcStats is the shape of one function body.
type funcStats struct {
	locals    uint64
	bodyBytes int
	instrs    int
	loops     int
	depth     int     // deepest nesting of block, loop and if
	height    int     // the operand stack's greatest height
	blocks    int     // basic blocks (cfg)
	merges    int     // blocks with several predecessors, loop headers included (cfg)
	depthSum  float64 // sum of the blocks' dominator-depth bounds (cfg)
	// predSquares sums the square of each block's predecessors: wazero's
	// SSA builder scans a block's predecessors each time it adds one.
	predSquares float64
	brTargets   int // br_table targets: a trampoline block each
	brTableMax  int // most targets of one br_table, the default included
	// control counts the instructions that start a basic block in wazero's
	// SSA: block, loop, if, else, br_if and each br_table target. Passes
	// quadratic in a function's blocks make it the driver of their cost.
	control  int
	calls    int
	loopEnds []int
}

// arity is a function type's or block type's number of params and results.
type arity struct{ params, results int }

// typeCtx gives the arities scanExpr needs to follow the operand stack's
// height: each type's, and the type of each function in the index space.
type typeCtx struct {
	types []arity
	funcs []uint32
}

func (tc *typeCtx) typ(i uint64) arity {
	if tc == nil || i >= uint64(len(tc.types)) {
		return arity{}
	}
	return tc.types[i]
}

func (tc *typeCtx) fn(i uint32) arity {
	if tc == nil || int(i) >= len(tc.funcs) {
		return arity{}
	}
	return tc.typ(uint64(tc.funcs[i]))
}

// frame is an open block, loop or if: the height below it and its type.
type frame struct {
	height      int
	arity       arity
	unreachable bool
}

// stack follows the operand stack's height as validation would, to find
// its maximum: the values live at once, which wazero's register allocator
// keeps per basic block.
type stack struct {
	h      int
	frames []frame
	st     *funcStats
}

func (s *stack) pop(n int) {
	f := &s.frames[len(s.frames)-1]
	s.h -= n
	if s.h < f.height { // polymorphic after br, return, unreachable
		s.h = f.height
	}
}

func (s *stack) push(n int) {
	s.h += n
	s.st.height = max(s.st.height, s.h)
}

func (s *stack) popPush(pop, push int) { s.pop(pop); s.push(push) }

func (s *stack) enter(a arity) {
	s.pop(a.params)
	s.frames = append(s.frames, frame{height: s.h, arity: a})
	s.push(a.params)
}

func (s *stack) leave() {
	f := s.frames[len(s.frames)-1]
	s.frames = s.frames[:len(s.frames)-1]
	s.h = f.height
	s.push(f.arity.results)
}

func (s *stack) unreachable() {
	f := &s.frames[len(s.frames)-1]
	f.unreachable = true
	s.h = f.height
}

// cfg follows the basic blocks wazero's SSA builder creates for a body and
// bounds each one's depth in the dominator tree from above: a block's
// immediate dominator is the common ancestor of its predecessors, no deeper
// than the shallowest of them. wazero's dominance and loop-nesting walks
// (passBuildLoopNestingForest, subPassLoopDetection) climb the tree from
// every block, so their cost follows the sum of the depths: half the square
// of the blocks for a chain, far less for a dispatch such as Go's, where
// each block's dominator is one br_table.
type cfg struct {
	d         int // the current block's depth bound
	reachable bool
	frames    []cfgFrame
	st        *funcStats
}

type cfgFrame struct {
	kind    byte // opBlock, opLoop or opIf
	dead    bool // opened in unreachable code, where wazero emits nothing
	ifDepth int  // if: the depth of the block holding the if
	hadElse bool
	minPred int // the shallowest branch to the block after the end
	preds   int // branches to the block after the end
	back    int // loop: branches back to the header
}

func newCFG(st *funcStats) *cfg {
	return &cfg{reachable: true, frames: []cfgFrame{{kind: opBlock, minPred: math.MaxInt}}, st: st}
}

func (c *cfg) block(depth int) {
	c.d, c.reachable = depth, true
	c.st.blocks++
	c.st.depthSum += float64(depth)
}

func (c *cfg) branch(label uint32, from int) {
	if uint64(label) >= uint64(len(c.frames)) {
		return
	}
	f := &c.frames[len(c.frames)-1-int(label)]
	if f.kind == opLoop {
		f.back++
		return
	}
	f.minPred = min(f.minPred, from)
	f.preds++
}

func (c *cfg) open(kind byte) {
	f := cfgFrame{kind: kind, dead: !c.reachable, ifDepth: c.d, minPred: math.MaxInt}
	c.frames = append(c.frames, f)
	if !f.dead && kind != opBlock {
		c.block(c.d + 1) // the loop header, or the then block
	}
}

func (c *cfg) els() {
	f := &c.frames[len(c.frames)-1]
	if f.dead {
		return
	}
	if c.reachable {
		f.minPred = min(f.minPred, c.d)
		f.preds++
	}
	f.hadElse = true
	c.block(f.ifDepth + 1)
}

// end closes the innermost frame; it reports false for the function's own.
func (c *cfg) end() bool {
	if len(c.frames) == 1 {
		return false
	}
	f := c.frames[len(c.frames)-1]
	c.frames = c.frames[:len(c.frames)-1]
	if f.dead {
		c.reachable = false
		return true
	}
	if f.kind == opLoop && f.back > 0 {
		c.st.merges++ // the header
		c.st.predSquares += float64(f.back+1) * float64(f.back+1)
	}
	if c.reachable {
		f.minPred = min(f.minPred, c.d)
		f.preds++
	}
	if f.kind == opIf && !f.hadElse {
		f.minPred = min(f.minPred, f.ifDepth)
		f.preds++
	}
	if f.preds == 0 {
		c.reachable = false
		return true
	}
	if f.preds > 1 {
		c.st.merges++
	}
	c.st.predSquares += float64(f.preds) * float64(f.preds)
	c.block(f.minPred + 1)
	return true
}

func (c *cfg) brIf(label uint32) {
	if c.reachable {
		c.branch(label, c.d)
		c.block(c.d + 1)
	}
}

func (c *cfg) br(label uint32) {
	if c.reachable {
		c.branch(label, c.d)
		c.reachable = false
	}
}

func (c *cfg) brTable(labels []uint32) {
	if !c.reachable {
		return
	}
	d := c.d
	for _, l := range labels { // a trampoline block per target
		c.st.blocks++
		c.st.depthSum += float64(d + 1)
		c.branch(l, d+1)
	}
	c.reachable = false
}

func (c *cfg) stop() { c.reachable = false }

// scanExpr decodes instructions from r up to and including the end that
// closes depth 0 (a function body's or a constant expression's), counting
// into st. With wantLoops it records, for each loop, the offset just past
// its block type. results is the expression's result count.
func scanExpr(r *reader, st *funcStats, wantLoops bool, tc *typeCtx, results int) error {
	s := &stack{st: st, frames: []frame{{arity: arity{results: results}}}}
	g := newCFG(st)
	var labels []uint32
	for {
		op, err := r.byte()
		if err != nil {
			return err
		}
		st.instrs++
		switch {
		case op == opBlock || op == opLoop || op == opIf:
			bt, err := blockType(r, tc)
			if err != nil {
				return err
			}
			if op == opIf {
				s.pop(1)
			}
			s.enter(bt)
			g.open(op)
			st.control++
			st.depth = max(st.depth, len(s.frames)-1)
			if op == opLoop {
				st.loops++
				if wantLoops {
					st.loopEnds = append(st.loopEnds, r.pos)
				}
			}
		case op == opEnd:
			if len(s.frames) == 1 {
				return nil
			}
			s.leave()
			g.end()
		case op == opElse:
			st.control++
			f := &s.frames[len(s.frames)-1]
			f.unreachable = false
			s.h = f.height
			s.push(f.arity.params)
			g.els()
		case op == opBrIf:
			st.control++
			s.pop(1)
			l, err := r.u32()
			if err != nil {
				return err
			}
			g.brIf(l)
		case op == opUnreachable, op == opReturn:
			s.unreachable()
			g.stop()
		case op == opNop:
		case op == opDrop:
			s.pop(1)
		case op == opSelect:
			s.popPush(3, 1)
		case op == 0xd1: // ref.is_null
			s.popPush(1, 1)
		case op == opCall:
			st.calls++
			f, err := r.u32()
			if err != nil {
				return err
			}
			a := tc.fn(f)
			s.popPush(a.params, a.results)
		case op == 0x12: // return_call
			if _, err := r.u32(); err != nil {
				return err
			}
			s.unreachable()
			g.stop()
		case op == opBr:
			l, err := r.u32()
			if err != nil {
				return err
			}
			s.unreachable()
			g.br(l)
		case op >= opLocalGet && op <= 0x26, op == 0xd2:
			if _, err := r.u32(); err != nil {
				return err
			}
			switch op {
			case opLocalGet, opGlobalGet, 0xd2:
				s.push(1)
			case opLocalSet, opGlobalSet:
				s.pop(1)
			case 0x26: // table.set
				s.pop(2)
			default: // local.tee, table.get
				s.popPush(1, 1)
			}
		case op == opBrTable:
			n, err := r.u32()
			if err != nil {
				return err
			}
			if uint64(n) > uint64(len(r.b)-r.pos) {
				return r.fail("br_table longer than the body")
			}
			labels = labels[:0]
			for i := uint32(0); i <= n; i++ {
				l, err := r.u32()
				if err != nil {
					return err
				}
				labels = append(labels, l)
			}
			st.control += int(n) + 1
			st.brTargets += int(n) + 1
			st.brTableMax = max(st.brTableMax, int(n)+1)
			s.unreachable()
			g.brTable(labels)
		case op == opCallIndirect, op == 0x13:
			t, err := r.u32()
			if err != nil {
				return err
			}
			if _, err := r.u32(); err != nil {
				return err
			}
			if op == 0x13 {
				s.unreachable()
				g.stop()
				break
			}
			st.calls++
			a := tc.typ(uint64(t))
			s.popPush(a.params+1, a.results)
		case op == 0x1c: // select t*
			n, err := r.u32()
			if err != nil {
				return err
			}
			for i := uint32(0); i < n; i++ {
				if err := r.valType(); err != nil {
					return err
				}
			}
			s.popPush(3, 1)
		case op >= 0x28 && op <= 0x3e:
			if err := skipU32s(r, 2); err != nil {
				return err
			}
			if op <= 0x35 {
				s.popPush(1, 1)
			} else {
				s.pop(2)
			}
		case op == 0x3f, op == 0x40:
			if _, err := r.byte(); err != nil {
				return err
			}
			if op == 0x3f {
				s.push(1)
			} else {
				s.popPush(1, 1)
			}
		case op == opI32Const:
			if err := r.sleb(32); err != nil {
				return err
			}
			s.push(1)
		case op == opI64Const:
			if err := r.sleb(64); err != nil {
				return err
			}
			s.push(1)
		case op == 0x43:
			if _, err := r.bytes(4); err != nil {
				return err
			}
			s.push(1)
		case op == 0x44:
			if _, err := r.bytes(8); err != nil {
				return err
			}
			s.push(1)
		case op == 0xd0:
			if err := r.sleb(33); err != nil {
				return err
			}
			s.push(1)
		case op >= 0x45 && op <= 0xc4:
			if unaryNumeric(op) {
				s.popPush(1, 1)
			} else {
				s.popPush(2, 1)
			}
		case op == 0xfc:
			pop, push, err := miscOp(r)
			if err != nil {
				return err
			}
			s.popPush(pop, push)
		case op == 0xfd:
			pop, push, err := simdOp(r)
			if err != nil {
				return err
			}
			s.popPush(pop, push)
		default:
			return r.fail(fmt.Sprintf("opcode 0x%x", op))
		}
	}
}

// unaryNumeric reports whether a numeric opcode (0x45 to 0xc4) takes one
// operand; the others take two.
func unaryNumeric(op byte) bool {
	switch {
	case op == 0x45, op == 0x50, // eqz
		op >= 0x67 && op <= 0x69, op >= 0x79 && op <= 0x7b, // clz, ctz, popcnt
		op >= 0x8b && op <= 0x91, op >= 0x99 && op <= 0x9f, // float unary
		op >= 0xa7: // conversions, reinterpretations, sign extensions
		return true
	}
	return false
}

func skipU32s(r *reader, n int) error {
	for range n {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

func blockType(r *reader, tc *typeCtx) (arity, error) {
	c, err := r.byte()
	if err != nil {
		return arity{}, err
	}
	switch c {
	case blockVoid:
		return arity{}, nil
	case i32, i64, f32, f64, v128, funcref, 0x6f:
		return arity{results: 1}, nil
	case 0x63, 0x64:
		return arity{results: 1}, r.sleb(33)
	}
	r.pos--
	start := r.pos
	if err := r.sleb(33); err != nil { // a type index
		return arity{}, err
	}
	var idx uint64
	for i, b := range r.b[start:r.pos] {
		idx |= uint64(b&0x7f) << (7 * i)
	}
	return tc.typ(idx), nil
}

// miscOp reads the 0xfc instructions: saturating truncations, bulk memory
// and table instructions. It returns how many operands each pops and
// pushes.
func miscOp(r *reader) (pop, push int, err error) {
	sub, err := r.u32()
	if err != nil {
		return 0, 0, err
	}
	switch {
	case sub <= 7: // trunc_sat
		return 1, 1, nil
	case sub == 8: // memory.init data, memory
		if _, err := r.u32(); err != nil {
			return 0, 0, err
		}
		_, err = r.byte()
		return 3, 0, err
	case sub == 9, sub == 13: // data.drop, elem.drop
		_, err = r.u32()
		return 0, 0, err
	case sub == 10: // memory.copy
		_, err = r.bytes(2)
		return 3, 0, err
	case sub == 11: // memory.fill
		_, err = r.byte()
		return 3, 0, err
	case sub == 12, sub == 14: // table.init, table.copy
		return 3, 0, skipU32s(r, 2)
	case sub == 15: // table.grow
		_, err = r.u32()
		return 2, 1, err
	case sub == 16: // table.size
		_, err = r.u32()
		return 0, 1, err
	case sub == 17: // table.fill
		_, err = r.u32()
		return 3, 0, err
	}
	return 0, 0, r.fail(fmt.Sprintf("opcode 0xfc %d", sub))
}

// simdOp reads the 0xfd instructions of the fixed-width SIMD proposal and
// returns how many operands each pops and pushes.
func simdOp(r *reader) (pop, push int, err error) {
	sub, err := r.u32()
	if err != nil {
		return 0, 0, err
	}
	switch {
	case sub <= 10, sub == 92, sub == 93: // loads
		return 1, 1, skipU32s(r, 2)
	case sub == 11: // store
		return 2, 0, skipU32s(r, 2)
	case sub == 12: // v128.const
		_, err = r.bytes(16)
		return 0, 1, err
	case sub == 13: // i8x16.shuffle
		_, err = r.bytes(16)
		return 2, 1, err
	case sub >= 21 && sub <= 34: // extract_lane (odd positions pop 1), replace_lane (pop 2)
		_, err = r.byte()
		if sub == 21 || sub == 22 || sub == 24 || sub == 25 || sub == 27 || sub == 29 || sub == 31 || sub == 33 {
			return 1, 1, err
		}
		return 2, 1, err
	case sub >= 84 && sub <= 91: // load_lane (2 -> 1), store_lane (2 -> 0)
		if err := skipU32s(r, 2); err != nil {
			return 0, 0, err
		}
		_, err = r.byte()
		if sub <= 87 {
			return 2, 1, err
		}
		return 2, 0, err
	case sub == 82: // v128.bitselect
		return 3, 1, nil
	case sub <= 0xff:
		if simdUnary(sub) {
			return 1, 1, nil
		}
		return 2, 1, nil
	}
	return 0, 0, r.fail(fmt.Sprintf("opcode 0xfd %d", sub))
}

// simdUnary reports whether a SIMD opcode without immediates takes one
// operand: splats, not, any_true, abs, neg, popcnt, all_true, bitmask,
// extends, rounding, sqrt and conversions.
func simdUnary(sub uint32) bool {
	switch {
	case sub >= 15 && sub <= 20, sub == 77, sub == 83, sub == 94, sub == 95,
		sub >= 96 && sub <= 100, sub >= 103 && sub <= 106, sub == 116, sub == 117, sub == 122,
		sub >= 124 && sub <= 129, sub == 131, sub == 132, sub >= 135 && sub <= 138, sub == 148,
		sub == 160, sub == 161, sub == 163, sub == 164, sub >= 167 && sub <= 170,
		sub == 192, sub == 193, sub == 195, sub == 196, sub >= 199 && sub <= 202,
		sub == 224, sub == 225, sub == 227, sub == 236, sub == 237, sub == 239, sub >= 248:
		return true
	}
	return false
}

// shape is what the structural limits bound, for one module, plus the
// compile time measured for it.
type shape struct {
	Bytes              int
	Types              int
	Imports            int
	Functions          int // defined
	Globals            int // defined
	Exports            int
	Tables             int
	ElementSegments    int
	DataSegments       int
	ParamsResults      int    // most params or results of one type
	TableSize          uint64 // largest declared minimum
	LocalsPerFunction  uint64
	FunctionBodyBytes  int
	MaxInstructions    int // per function
	Instructions       int // whole module
	LoopsPerFunction   int
	BlockDepth         int
	BrTableTargets     int
	ControlPerFunction int     // most control instructions (funcStats.control) in one function
	StackHeight        int     // the operand stack's greatest height in one function
	ControlSquares     float64 // sum over functions of control², the quadratic passes' load
	Control            int     // whole module
	Locals             uint64  // whole module: what wazero's decoder allocates a byte for
	Calls              int     // whole module: call and call_indirect, each reloads every mutable global
	MutableGlobals     int     // imported and defined
	LocalsXControl     float64 // most locals × control in one function (phis)
	InstrXControl      float64 // most instructions × control in one function (liveness)
	Cost               float64 // cost.go's estimate in microseconds, set by withCost
}

// moduleInfo is what instrument needs: the types' results and the indices
// it appends at.
type moduleInfo struct {
	sections        []sectionBytes
	typeResults     [][]byte // raw result types of each type
	funcTypes       []uint32 // type index of each defined function
	importedFuncs   int
	tc              typeCtx
	importedGlobals int
	bodies          []body
}

// body is one code entry: its locals vector (raw) and its expression.
type body struct {
	locals []byte
	expr   []byte
	stats  funcStats
}

// parse describes wasm. With wantLoops it records where each loop's body
// starts.
func parse(wasm []byte, wantLoops bool) (*moduleInfo, shape, error) {
	var sh shape
	sh.Bytes = len(wasm)
	sections, err := splitSections(wasm)
	if err != nil {
		return nil, sh, err
	}
	mi := &moduleInfo{sections: sections}
	for _, s := range sections {
		r := &reader{b: s.payload}
		if s.id == secCustom || s.id == secStart || s.id == secDataCount {
			continue
		}
		n, err := r.u32()
		if err != nil {
			return nil, sh, err
		}
		if uint64(n) > uint64(len(s.payload)) {
			return nil, sh, r.fail("vector longer than its section")
		}
		switch s.id {
		case secType:
			sh.Types = int(n)
			if err := parseTypes(r, n, mi, &sh); err != nil {
				return nil, sh, err
			}
		case secImport:
			sh.Imports = int(n)
			if err := parseImports(r, n, mi, &sh); err != nil {
				return nil, sh, err
			}
		case secFunction:
			sh.Functions = int(n)
			for range n {
				t, err := r.u32()
				if err != nil {
					return nil, sh, err
				}
				mi.funcTypes = append(mi.funcTypes, t)
				mi.tc.funcs = append(mi.tc.funcs, t)
			}
		case secTable:
			sh.Tables += int(n)
			for range n {
				if err := r.valType(); err != nil {
					return nil, sh, err
				}
				min, err := r.limits()
				if err != nil {
					return nil, sh, err
				}
				sh.TableSize = max(sh.TableSize, min)
			}
		case secGlobal:
			sh.Globals = int(n)
			for range n {
				if err := r.valType(); err != nil {
					return nil, sh, err
				}
				mut, err := r.byte()
				if err != nil {
					return nil, sh, err
				}
				if mut == 1 {
					sh.MutableGlobals++
				}
				if err := scanExpr(r, &funcStats{}, false, nil, 1); err != nil {
					return nil, sh, err
				}
			}
		case secExport:
			sh.Exports = int(n)
		case secElement:
			sh.ElementSegments = int(n)
		case secData:
			sh.DataSegments = int(n)
		case secCode:
			if err := parseCode(r, n, mi, &sh, wantLoops); err != nil {
				return nil, sh, err
			}
		}
	}
	return mi, sh, nil
}

func parseTypes(r *reader, n uint32, mi *moduleInfo, sh *shape) error {
	for range n {
		if c, err := r.byte(); err != nil {
			return err
		} else if c != 0x60 {
			return r.fail("not a function type")
		}
		var results []byte
		var a arity
		for side := range 2 {
			k, err := r.u32()
			if err != nil {
				return err
			}
			sh.ParamsResults = max(sh.ParamsResults, int(k))
			start := r.pos
			for range k {
				if err := r.valType(); err != nil {
					return err
				}
			}
			if side == 1 {
				results = r.b[start:r.pos]
				a.results = int(k)
			} else {
				a.params = int(k)
			}
		}
		mi.typeResults = append(mi.typeResults, results)
		mi.tc.types = append(mi.tc.types, a)
	}
	return nil
}

func parseImports(r *reader, n uint32, mi *moduleInfo, sh *shape) error {
	for range n {
		for range 2 {
			l, err := r.u32()
			if err != nil {
				return err
			}
			if _, err := r.bytes(uint64(l)); err != nil {
				return err
			}
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case 0:
			mi.importedFuncs++
			t, err := r.u32()
			if err != nil {
				return err
			}
			mi.tc.funcs = append(mi.tc.funcs, t)
		case 1:
			sh.Tables++
			if err := r.valType(); err != nil {
				return err
			}
			min, err := r.limits()
			if err != nil {
				return err
			}
			sh.TableSize = max(sh.TableSize, min)
		case 2:
			if _, err := r.limits(); err != nil {
				return err
			}
		case 3:
			mi.importedGlobals++
			if err := r.valType(); err != nil {
				return err
			}
			mut, err := r.byte()
			if err != nil {
				return err
			}
			if mut == 1 {
				sh.MutableGlobals++
			}
		default:
			return r.fail(fmt.Sprintf("import kind %d", kind))
		}
	}
	return nil
}

func parseCode(r *reader, n uint32, mi *moduleInfo, sh *shape, wantLoops bool) error {
	for range n {
		size, err := r.u32()
		if err != nil {
			return err
		}
		entry, err := r.bytes(uint64(size))
		if err != nil {
			return err
		}
		er := &reader{b: entry}
		var b body
		decls, err := er.u32()
		if err != nil {
			return err
		}
		for range decls {
			c, err := er.u32()
			if err != nil {
				return err
			}
			b.stats.locals += uint64(c)
			if err := er.valType(); err != nil {
				return err
			}
		}
		b.locals = entry[:er.pos]
		b.expr = entry[er.pos:]
		b.stats.bodyBytes = len(entry)
		results := 0
		if i := len(mi.bodies); i < len(mi.funcTypes) {
			results = mi.tc.typ(uint64(mi.funcTypes[i])).results
		}
		if err := scanExpr(er, &b.stats, wantLoops, &mi.tc, results); err != nil {
			return err
		}
		if er.pos != len(entry) {
			return er.fail("bytes after the body's end")
		}
		for i := range b.stats.loopEnds {
			b.stats.loopEnds[i] -= len(b.locals)
		}
		st := &b.stats
		sh.LocalsPerFunction = max(sh.LocalsPerFunction, st.locals)
		sh.FunctionBodyBytes = max(sh.FunctionBodyBytes, st.bodyBytes)
		sh.MaxInstructions = max(sh.MaxInstructions, st.instrs)
		sh.Instructions += st.instrs
		sh.LoopsPerFunction = max(sh.LoopsPerFunction, st.loops)
		sh.BlockDepth = max(sh.BlockDepth, st.depth)
		sh.BrTableTargets = max(sh.BrTableTargets, st.brTableMax)
		sh.ControlPerFunction = max(sh.ControlPerFunction, st.control)
		sh.StackHeight = max(sh.StackHeight, st.height)
		sh.ControlSquares += float64(st.control) * float64(st.control)
		sh.Control += st.control
		sh.Locals += st.locals
		sh.Calls += st.calls
		sh.LocalsXControl = max(sh.LocalsXControl, float64(st.locals)*float64(st.control))
		sh.InstrXControl = max(sh.InstrXControl, float64(st.instrs)*float64(st.control))
		if !wantLoops {
			b.expr, b.locals = nil, nil
		}
		mi.bodies = append(mi.bodies, b)
	}
	return nil
}
