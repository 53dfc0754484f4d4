package wasmbin

import (
	"fmt"
	"math"
)

// Reader reads the instructions of one function body in order. It is
// used by one goroutine.
//
// Decode reads every body with a Reader, so that what it checked and
// counted is exactly what a rewrite reading the same body sees.
type Reader struct {
	m      *Module
	fn     uint32 // in the function index space, for errors
	body   []byte
	base   int // offset of body in Module.Bytes, for errors
	pos    int
	params uint32
	locals uint64 // params and declared locals
	lim    Limits
	in     Instr
	err    error
	done   bool

	ctl []frame // open blocks, the function's own first

	// What Decode records in Code.
	count     uint32
	loops     uint32
	maxDepth  uint32
	height    uint64
	maxHeight uint64
	bottom    uint64 // the innermost block's frame.bottom
	maxCount  uint32 // lim.InstructionsPerFunction, or no limit
	maxStack  uint64 // lim.StackHeight, or no limit
	stateOps  uint32 // instructions for which Op.ChangesState

	// stats makes the Reader follow what the compile-cost estimate needs
	// (cost.go): only Decode's Reader does.
	stats bool
	costStats
	maxControl uint32 // lim.ControlPerFunction, or no limit
	cfgDepth   uint32 // the current basic block's dominator-depth bound
	dead       bool   // the code here is unreachable: wazero emits nothing for it
}

// costStats are the counts of one body the compile-cost estimate uses.
type costStats struct {
	calls, control, blocks, merges, brTargets uint32
	depthSum, predSquares                     uint64
}

// frame is one open block.
type frame struct {
	op      byte   // OpBlock, OpLoop, OpIf, OpElse; 0 for the function
	bottom  uint64 // operand stack height below the block's params
	params  uint32
	results uint32

	// For the basic blocks (Reader.stats).
	dead    bool   // opened in unreachable code
	ifDepth uint32 // the depth bound of the block holding the block, loop or if
	minPred uint32 // the shallowest branch to the block after the end
	preds   uint32 // branches to the block after the end
	back    uint32 // a loop's branches back to its header
}

// Instructions returns a reader of the body of defined function i (0 is
// the first defined, not the first imported, function). Decode has
// already read the whole body successfully, so a Reader only fails on a
// Module it did not return.
func (m *Module) Instructions(i int) *Reader {
	r := &Reader{m: m}
	if i < 0 || i >= len(m.Code) || i >= len(m.Functions) || int(m.Functions[i]) >= len(m.Types) {
		r.err = fmt.Errorf("function body %d: no such defined function: %w", i, ErrInvalidIndex)
		return r
	}
	// The index spaces are Decode's: a Module built otherwise has none.
	if uint64(len(m.funcTypes)) != uint64(m.NumFuncs()) || uint64(len(m.tables)) != uint64(m.NumTables()) ||
		uint64(len(m.globals)) != uint64(m.NumGlobals()) || m.Code[i].Expr < 0 {
		r.err = fmt.Errorf("function body %d: not a module Decode returned: %w", i, ErrMalformed)
		return r
	}
	r.reset(m, i, Limits{})
	return r
}

// reset prepares r to read defined function i under limits lim.
func (r *Reader) reset(m *Module, i int, lim Limits) {
	code := &m.Code[i]
	t := &m.Types[m.Functions[i]]
	*r = Reader{
		m:      m,
		fn:     m.ImportedFuncs + uint32(i),
		body:   code.Body,
		base:   code.Offset + code.SizeWidth,
		pos:    code.Expr,
		params: uint32(len(t.Params)),
		locals: uint64(len(t.Params)) + uint64(code.NumLocals),
		lim:    lim,
		ctl:    append(r.ctl[:0], frame{results: uint32(len(t.Results)), minPred: math.MaxUint32}),
	}
	r.maxDepth = 1
	r.maxCount = lim.InstructionsPerFunction
	if r.maxCount == 0 {
		r.maxCount = math.MaxUint32
	}
	r.maxStack = uint64(lim.StackHeight)
	if r.maxStack == 0 {
		r.maxStack = math.MaxUint64
	}
	r.maxControl = lim.ControlPerFunction
	if r.maxControl == 0 {
		r.maxControl = math.MaxUint32
	}
}

// Next reads the next instruction, reporting false after the body's final
// end or an error.
func (r *Reader) Next() bool {
	if r.done || r.err != nil {
		return false
	}
	b := r.body
	p := r.pos
	if p >= len(b) {
		r.fail(ErrMalformed, p, "the body ends before its final end")
		return false
	}
	op := b[p]
	r.in = Instr{Op: Op(op), Start: p, Depth: uint32(len(r.ctl))}
	p++
	var pops, pushes uint32
	switch a := plainOps[op]; {
	case a != 0:
		pops, pushes = uint32(a>>4&7), uint32(a&15)
		if op < 0x1a && op != 0x01 { // unreachable, return
			r.dead = true
		}
	case op >= 0x28 && op <= 0x3e: // loads and stores
		if !r.needMemory(op, p) {
			return false
		}
		if p = r.memarg(p, memAlign[op-0x28]); p == 0 {
			return false
		}
		if op <= 0x35 {
			pops, pushes = 1, 1
		} else {
			pops = 2
		}
	default:
		if p, pops, pushes = r.special(op, p); p == 0 {
			return false
		}
	}
	if r.count >= r.maxCount {
		r.failLimit("InstructionsPerFunction", uint64(r.count)+1, uint64(r.lim.InstructionsPerFunction))
		return false
	}
	r.count++
	if r.in.Op.ChangesState() {
		r.stateOps++
	}
	r.in.End = p
	r.pos = p
	r.stack(pops, pushes)
	if r.maxHeight > r.maxStack {
		r.failLimit("StackHeight", r.maxHeight, uint64(r.lim.StackHeight))
		return false
	}
	if r.done && p != len(b) {
		r.fail(ErrMalformed, p, "%d bytes after the function's final end", len(b)-p)
		return false
	}
	return true
}

// plainOps holds, for each instruction without immediates, 0x80 | the
// values it pops << 4 | the values it pushes.
var plainOps [256]uint8

func init() {
	for op := 0x45; op <= 0xc4; op++ {
		pops := uint8(1)
		if numericBinary(byte(op)) {
			pops = 2
		}
		plainOps[op] = 0x80 | pops<<4 | 1
	}
	plainOps[0x00] = 0x80            // unreachable
	plainOps[0x01] = 0x80            // nop
	plainOps[0x0f] = 0x80            // return
	plainOps[0x1a] = 0x80 | 1<<4     // drop
	plainOps[0x1b] = 0x80 | 3<<4 | 1 // select
	plainOps[0xd1] = 0x80 | 1<<4 | 1 // ref.is_null
}

// numericBinary reports whether numeric opcode op pops two values:
// comparisons and binary arithmetic; the others pop one.
func numericBinary(op byte) bool {
	switch {
	case op == 0x45 || op == 0x50: // eqz
		return false
	case op <= 0x66: // comparisons
		return true
	case op >= 0x6a && op <= 0x78, op >= 0x7c && op <= 0x8a, op >= 0x92 && op <= 0x98, op >= 0xa0 && op <= 0xa6:
		return true
	}
	return false
}

// stack updates the operand stack height bound: values popped below the
// current block's bottom (only possible in unreachable code) are not
// counted, and code after br, br_table, return and unreachable keeps the
// height it had, which can only overstate it.
func (r *Reader) stack(pops, pushes uint32) {
	if r.height-r.bottom >= uint64(pops) {
		r.height -= uint64(pops)
	} else {
		r.height = r.bottom
	}
	r.height += uint64(pushes)
	if r.height > r.maxHeight {
		r.maxHeight = r.height
	}
}

// Instr returns the instruction Next read; it is overwritten by the next
// call of Next.
func (r *Reader) Instr() *Instr { return &r.in }

// Err returns the error that stopped Next, if any.
func (r *Reader) Err() error { return r.err }

// fail records the error that stops r, naming the function and the byte
// of the module at body offset p.
func (r *Reader) fail(sentinel error, p int, format string, args ...any) {
	r.err = fmt.Errorf("function[%d] at byte %#x: %s: %w", r.fn, r.base+p, fmt.Sprintf(format, args...), sentinel)
}

func (r *Reader) failLimit(limit string, found, max uint64) {
	r.err = &LimitError{Limit: limit, Where: fmt.Sprintf("function[%d]", r.fn), Found: found, Max: max}
}

// u32 reads an unsigned LEB128 immediate at p and returns it and the
// offset after it, or 0 after recording an error.
func (r *Reader) u32(p int, what string) (uint32, int) {
	b := r.body
	if p < len(b) && b[p] < 0x80 {
		return uint32(b[p]), p + 1
	}
	v, n := readU32(b[p:])
	if n == 0 {
		r.fail(ErrMalformed, p, "%s: not an unsigned 32-bit LEB128", what)
		return 0, 0
	}
	return v, p + n
}

// index reads an index immediate at p and checks it is below space.
func (r *Reader) index(p int, what string, space uint32) (uint32, int) {
	v, q := r.u32(p, what)
	if q == 0 {
		return 0, 0
	}
	if v >= space {
		r.fail(ErrInvalidIndex, p, "%s %d, the module has %d", what, v, space)
		return 0, 0
	}
	return v, q
}

// zeroByte reads a memory index immediate that wazero requires to be the
// single byte 0x00.
func (r *Reader) zeroByte(p int, what string) int {
	if p >= len(r.body) || r.body[p] != 0 {
		r.fail(ErrMalformed, p, "%s: memory index other than the single byte 0x00", what)
		return 0
	}
	return p + 1
}

func (r *Reader) needMemory(op byte, p int) bool {
	if r.m.NumMemories() == 0 {
		r.fail(ErrInvalidIndex, p-1, "opcode %#x uses memory 0, the module has no memory", op)
		return false
	}
	return true
}

// memarg reads a memory instruction's alignment and offset; the
// alignment may not be above maxAlign (log2), as wazero checks.
func (r *Reader) memarg(p int, maxAlign uint8) int {
	at := p
	align, p := r.u32(p, "alignment")
	if p == 0 {
		return 0
	}
	if align > uint32(maxAlign) {
		r.fail(ErrMalformed, at, "alignment 2^%d over the natural 2^%d", align, maxAlign)
		return 0
	}
	off, p := r.u32(p, "offset")
	if p == 0 {
		return 0
	}
	r.in.Align, r.in.Offset = align, off
	return p
}

// blockType reads a block type at p as wazero's DecodeBlockType does (an
// s33 read by readS33), and refuses the encodings on which wazero and the
// specification differ: a multi-byte negative value (wazero reads, say,
// 0xc0 0x7f as the empty type 0x40), and a 5-byte index whose last byte
// wazero and the specification read differently (continuation bit or bit
// 6 set: wazero stops at 5 bytes and ignores bit 6, the specification
// reads on or refuses). It sets the Instr's BlockType and returns the
// block's param and result counts.
func (r *Reader) blockType(p int) (params, results uint32, q int) {
	b := r.body
	if p < len(b) {
		switch c := b[p]; c {
		case 0x40:
			r.in.BlockType = -64
			return 0, 0, p + 1
		case byte(I32), byte(I64), byte(F32), byte(F64), byte(V128), byte(FuncRef), byte(ExternRef):
			r.in.BlockType = int64(c) - 0x80
			return 0, 1, p + 1
		case exnRef:
			r.fail(ErrUnsupported, p, "block of type exnref (exception handling)")
			return 0, 0, 0
		case refPrefixNullable, refPrefixNonNull:
			r.fail(ErrUnsupported, p, "block of a (ref ...) type (typed function references, GC)")
			return 0, 0, 0
		}
	}
	v, n := readS33(b[p:])
	switch {
	case n == 0:
		r.fail(ErrMalformed, p, "block type: not a signed 33-bit LEB128")
		return 0, 0, 0
	case v < 0:
		switch v {
		case -64, -1, -2, -3, -4, -5, -16, -17, -23, -28, -29:
			r.fail(ErrUnsupported, p, "block type %d in %d bytes, where the specification has one", v, n)
		default:
			r.fail(ErrMalformed, p, "block type %d", v)
		}
		return 0, 0, 0
	case !s33SpecAgrees(b[p:], v, n):
		r.fail(ErrUnsupported, p, "block type %#x whose 5th byte %#02x wazero and the specification read differently", v, b[p+4])
		return 0, 0, 0
	case v >= int64(len(r.m.Types)):
		r.fail(ErrInvalidIndex, p, "block of type %d, the module has %d types", v, len(r.m.Types))
		return 0, 0, 0
	}
	r.in.BlockType = v
	t := &r.m.Types[v]
	return uint32(len(t.Params)), uint32(len(t.Results)), p + n
}

// push opens a block of op whose params are already on the stack.
func (r *Reader) push(op byte, params, results uint32, p int) bool {
	depth := uint32(len(r.ctl)) + 1
	if r.lim.BlockDepth != 0 && depth > r.lim.BlockDepth {
		r.failLimit("BlockDepth", uint64(depth), uint64(r.lim.BlockDepth))
		return false
	}
	bottom := r.bottom
	if r.height-bottom >= uint64(params) {
		bottom = r.height - uint64(params)
	}
	r.ctl = append(r.ctl, frame{op: op, bottom: bottom, params: params, results: results,
		dead: r.dead, ifDepth: r.cfgDepth, minPred: math.MaxUint32})
	r.bottom = bottom
	r.maxDepth = max(r.maxDepth, depth)
	if r.stats {
		if !r.addControl(1) {
			return false
		}
		if !r.dead && op != 0x02 {
			r.block(r.cfgDepth + 1) // the loop's header, or the if's then arm
		}
	}
	return true
}

// label checks a branch's label depth.
func (r *Reader) label(p int, what string) (uint32, int) {
	l, q := r.u32(p, what)
	if q == 0 {
		return 0, 0
	}
	if uint64(l) >= uint64(len(r.ctl)) {
		r.fail(ErrInvalidIndex, p, "%s to label %d, only %d blocks are open", what, l, len(r.ctl))
		return 0, 0
	}
	return l, q
}

// special reads every instruction but the numeric ones and the plain
// loads and stores, returning the offset after it or 0 after an error.
func (r *Reader) special(op byte, p int) (q int, pops, pushes uint32) {
	m := r.m
	in := &r.in
	b := r.body
	switch op {
	case 0x02, 0x03: // block, loop
		params, results, q := r.blockType(p)
		if q == 0 || !r.push(op, params, results, p) {
			return 0, pops, pushes
		}
		if op == 0x03 {
			if r.lim.LoopsPerFunction != 0 && r.loops >= r.lim.LoopsPerFunction {
				r.failLimit("LoopsPerFunction", uint64(r.loops)+1, uint64(r.lim.LoopsPerFunction))
				return 0, pops, pushes
			}
			r.loops++
		}
		return q, pops, pushes
	case 0x04: // if
		params, results, q := r.blockType(p)
		if q == 0 {
			return 0, pops, pushes
		}
		r.stack(1, 0)
		if !r.push(op, params, results, p) {
			return 0, pops, pushes
		}
		return q, pops, pushes
	case 0x05: // else
		f := &r.ctl[len(r.ctl)-1]
		if f.op != 0x04 {
			r.fail(ErrMalformed, p-1, "else outside an if")
			return 0, pops, pushes
		}
		f.op = 0x05
		r.height = f.bottom + uint64(f.params)
		if r.stats {
			if !r.addControl(1) {
				return 0, pops, pushes
			}
			r.cfgElse(f)
		}
	case 0x0b: // end
		f := r.ctl[len(r.ctl)-1]
		r.ctl = r.ctl[:len(r.ctl)-1]
		r.height = f.bottom + uint64(f.results)
		if len(r.ctl) == 0 {
			r.done = true
		} else {
			r.bottom = r.ctl[len(r.ctl)-1].bottom
			if r.stats {
				r.cfgEnd(&f)
			}
		}
	case 0x0c: // br
		l, q := r.label(p, "br")
		in.Index = l
		if r.stats && q != 0 && !r.dead {
			r.branch(l, r.cfgDepth)
			r.dead = true
		}
		return q, pops, pushes
	case 0x0d: // br_if
		l, q := r.label(p, "br_if")
		in.Index = l
		pops = 1
		if r.stats && q != 0 {
			if !r.addControl(1) {
				return 0, pops, pushes
			}
			if !r.dead {
				r.branch(l, r.cfgDepth)
				r.block(r.cfgDepth + 1)
			}
		}
		return q, pops, pushes
	case 0x0e: // br_table
		n, q := r.u32(p, "br_table count")
		if q == 0 {
			return 0, pops, pushes
		}
		targets := uint64(n) + 1
		if r.lim.BrTableTargets != 0 && targets > uint64(r.lim.BrTableTargets) {
			r.failLimit("BrTableTargets", targets, uint64(r.lim.BrTableTargets))
			return 0, pops, pushes
		}
		if targets > uint64(len(b)-q) {
			r.fail(ErrMalformed, p, "br_table of %d targets, only %d bytes left", targets, len(b)-q)
			return 0, pops, pushes
		}
		in.Targets = uint32(targets)
		if r.stats && !r.addControl(uint32(targets)) {
			return 0, pops, pushes
		}
		// Each target gets a block of its own in wazero's SSA (a
		// trampoline), branching from one deeper than the br_table's.
		live := r.stats && !r.dead
		from := r.cfgDepth + 1
		var l uint32
		for range targets {
			if l, q = r.label(q, "br_table"); q == 0 {
				return 0, pops, pushes
			}
			if live {
				r.blocks++
				r.depthSum = addSat(r.depthSum, uint64(from))
				r.branch(l, from)
			}
		}
		if r.stats {
			r.brTargets += uint32(targets)
			r.dead = true
		}
		in.Index = l // the default
		return q, pops, pushes
	case 0x10: // call
		fn, q := r.index(p, "call of function", m.NumFuncs())
		if q == 0 {
			return 0, pops, pushes
		}
		in.Index = fn
		t := &m.Types[m.funcTypes[fn]]
		pops, pushes = uint32(len(t.Params)), uint32(len(t.Results))
		r.calls++
		return q, pops, pushes
	case 0x11: // call_indirect
		ti, q := r.index(p, "call_indirect of type", uint32(len(m.Types)))
		if q == 0 {
			return 0, pops, pushes
		}
		at := q
		tab, q := r.index(q, "call_indirect through table", m.NumTables())
		if q == 0 {
			return 0, pops, pushes
		}
		if m.tables[tab] != FuncRef {
			r.fail(ErrMalformed, at, "call_indirect through table %d of %s", tab, typeName(m.tables[tab]))
			return 0, pops, pushes
		}
		in.Index, in.Index2 = ti, tab
		t := &m.Types[ti]
		pops, pushes = uint32(len(t.Params))+1, uint32(len(t.Results))
		r.calls++
		return q, pops, pushes
	case 0x1c: // select t: wazero reads the count as one byte
		if p+1 >= len(b) || b[p] != 1 {
			r.fail(ErrMalformed, p, "select with other than one type")
			return 0, pops, pushes
		}
		switch t := b[p+1]; ValType(t) {
		case I32, I64, F32, F64, V128, FuncRef, ExternRef:
		default:
			if t == refPrefixNullable || t == refPrefixNonNull {
				r.fail(ErrUnsupported, p+1, "select of a (ref ...) type (typed function references, GC)")
			} else {
				r.fail(ErrMalformed, p+1, "select of type %#x", t)
			}
			return 0, pops, pushes
		}
		pops, pushes = 3, 1
		return p + 2, pops, pushes
	case 0x20, 0x21, 0x22: // local.get, set, tee
		at := p
		l, q := r.u32(p, "local")
		if q == 0 {
			return 0, pops, pushes
		}
		if uint64(l) >= r.locals {
			r.fail(ErrInvalidIndex, at, "local %d, the function has %d params and locals", l, r.locals)
			return 0, pops, pushes
		}
		in.Index = l
		switch op {
		case 0x20:
			pushes = 1
		case 0x21:
			pops = 1
		default:
			pops, pushes = 1, 1
		}
		return q, pops, pushes
	case 0x23, 0x24: // global.get, set
		g, q := r.index(p, "global", m.NumGlobals())
		if q == 0 {
			return 0, pops, pushes
		}
		in.Index = g
		if op == 0x23 {
			pushes = 1
		} else {
			if !m.globals[g].Mutable {
				r.fail(ErrMalformed, p, "global.set of immutable global %d", g)
				return 0, pops, pushes
			}
			pops = 1
		}
		return q, pops, pushes
	case 0x25, 0x26: // table.get, set
		t, q := r.index(p, "table", m.NumTables())
		in.Index = t
		if op == 0x25 {
			pops, pushes = 1, 1
		} else {
			pops = 2
		}
		return q, pops, pushes
	case 0x3f, 0x40: // memory.size, grow
		if !r.needMemory(op, p) {
			return 0, pops, pushes
		}
		if op == 0x3f {
			pushes = 1
		} else {
			pops, pushes = 1, 1
		}
		return r.zeroByte(p, "memory.size or memory.grow"), pops, pushes
	case 0x41: // i32.const
		v, n := readS32(b[p:])
		if n == 0 {
			r.fail(ErrMalformed, p, "i32.const: not a signed 32-bit LEB128")
			return 0, pops, pushes
		}
		in.Const = uint64(uint32(v))
		pushes = 1
		return p + n, pops, pushes
	case 0x42: // i64.const
		v, n := readS64(b[p:])
		if n == 0 {
			r.fail(ErrMalformed, p, "i64.const: not a signed 64-bit LEB128")
			return 0, pops, pushes
		}
		in.Const = uint64(v)
		pushes = 1
		return p + n, pops, pushes
	case 0x43: // f32.const
		if len(b)-p < 4 {
			r.fail(ErrMalformed, p, "f32.const: truncated")
			return 0, pops, pushes
		}
		in.Const = uint64(uint32(b[p]) | uint32(b[p+1])<<8 | uint32(b[p+2])<<16 | uint32(b[p+3])<<24)
		pushes = 1
		return p + 4, pops, pushes
	case 0x44: // f64.const
		if len(b)-p < 8 {
			r.fail(ErrMalformed, p, "f64.const: truncated")
			return 0, pops, pushes
		}
		for k := 7; k >= 0; k-- {
			in.Const = in.Const<<8 | uint64(b[p+k])
		}
		pushes = 1
		return p + 8, pops, pushes
	case 0xd0: // ref.null
		if p >= len(b) {
			r.fail(ErrMalformed, p, "ref.null: truncated")
			return 0, pops, pushes
		}
		switch t := b[p]; ValType(t) {
		case FuncRef, ExternRef:
		default:
			if t == exnRef {
				r.fail(ErrUnsupported, p, "ref.null exn (exception handling)")
			} else {
				r.fail(ErrUnsupported, p, "ref.null of heap type %#x (typed function references)", t)
			}
			return 0, pops, pushes
		}
		pushes = 1
		return p + 1, pops, pushes
	case 0xd2: // ref.func
		fn, q := r.index(p, "ref.func of function", m.NumFuncs())
		if q == 0 {
			return 0, pops, pushes
		}
		if !m.isDeclared(fn) {
			r.fail(ErrInvalidIndex, p, "ref.func of function %d, which no export, global or element segment declares", fn)
			return 0, pops, pushes
		}
		in.Index = fn
		pushes = 1
		return q, pops, pushes
	case 0xfc:
		return r.misc(p)
	case 0xfd:
		return r.simd(p)
	default:
		if f := unsupportedOp(op); f != "" {
			r.fail(ErrUnsupported, p-1, "opcode %#x (%s)", op, f)
		} else {
			r.fail(ErrMalformed, p-1, "unknown opcode %#x", op)
		}
		return 0, pops, pushes
	}
	return p, pops, pushes
}

// misc reads a 0xfc instruction: a sub-opcode LEB128 (wazero reads it as
// a u32 and refuses one above 255) and its immediates.
func (r *Reader) misc(p int) (q int, pops, pushes uint32) {
	m := r.m
	in := &r.in
	at := p
	sub, p := r.u32(p, "0xfc sub-opcode")
	if p == 0 {
		return 0, pops, pushes
	}
	in.Op = OpMisc | Op(sub)
	switch {
	case sub <= 7: // trunc_sat
		pops, pushes = 1, 1
		return p, pops, pushes
	case sub == 8 || sub == 9: // memory.init, data.drop
		if sub == 8 && !r.needMemory(0xfc, at) {
			return 0, pops, pushes
		}
		if !m.HasDataCount {
			name := "data.drop"
			if sub == 8 {
				name = "memory.init"
			}
			r.fail(ErrInvalidIndex, at, "%s without a data count section", name)
			return 0, pops, pushes
		}
		d, q := r.index(p, "data segment", m.DataCount)
		if q == 0 {
			return 0, pops, pushes
		}
		in.Index = d
		if sub == 9 {
			return q, pops, pushes
		}
		pops = 3
		return r.zeroByte(q, "memory.init"), pops, pushes
	case sub == 10: // memory.copy
		if !r.needMemory(0xfc, at) {
			return 0, pops, pushes
		}
		pops = 3
		if p = r.zeroByte(p, "memory.copy"); p == 0 {
			return 0, pops, pushes
		}
		return r.zeroByte(p, "memory.copy"), pops, pushes
	case sub == 11: // memory.fill
		if !r.needMemory(0xfc, at) {
			return 0, pops, pushes
		}
		pops = 3
		return r.zeroByte(p, "memory.fill"), pops, pushes
	case sub == 12: // table.init
		e, q := r.index(p, "element segment", uint32(len(m.Elements)))
		if q == 0 {
			return 0, pops, pushes
		}
		tat := q
		t, q := r.index(q, "table", m.NumTables())
		if q == 0 {
			return 0, pops, pushes
		}
		if m.Elements[e].Type != m.tables[t] {
			r.fail(ErrMalformed, tat, "table.init of a %s segment into a table of %s", typeName(m.Elements[e].Type), typeName(m.tables[t]))
			return 0, pops, pushes
		}
		in.Index, in.Index2 = e, t
		pops = 3
		return q, pops, pushes
	case sub == 13: // elem.drop
		e, q := r.index(p, "element segment", uint32(len(m.Elements)))
		in.Index = e
		return q, pops, pushes
	case sub == 14: // table.copy
		dst, q := r.index(p, "table", m.NumTables())
		if q == 0 {
			return 0, pops, pushes
		}
		sat := q
		src, q := r.index(q, "table", m.NumTables())
		if q == 0 {
			return 0, pops, pushes
		}
		if m.tables[src] != m.tables[dst] {
			r.fail(ErrMalformed, sat, "table.copy from a table of %s to one of %s", typeName(m.tables[src]), typeName(m.tables[dst]))
			return 0, pops, pushes
		}
		in.Index, in.Index2 = dst, src
		pops = 3
		return q, pops, pushes
	case sub <= 17: // table.grow, size, fill
		t, q := r.index(p, "table", m.NumTables())
		in.Index = t
		switch sub {
		case 15:
			pops, pushes = 2, 1
		case 16:
			pushes = 1
		default:
			pops = 3
		}
		return q, pops, pushes
	}
	r.fail(ErrMalformed, at, "unknown 0xfc sub-opcode %d", sub)
	return 0, pops, pushes
}

// simd reads a 0xfd instruction. wazero reads its sub-opcode as one byte
// where the specification has a LEB128: they agree on the canonical
// encodings, one byte below 0x80 and two bytes (the second 0x01) from
// 0x80 to 0xff, where wazero takes the 0x01 for a nop. Any other
// encoding reads differently and is refused.
func (r *Reader) simd(p int) (q int, pops, pushes uint32) {
	b := r.body
	in := &r.in
	if p >= len(b) {
		r.fail(ErrMalformed, p, "0xfd: truncated")
		return 0, pops, pushes
	}
	at := p
	sub := b[p]
	p++
	if sub >= 0x80 {
		if p >= len(b) || b[p] != 0x01 {
			r.fail(ErrUnsupported, at, "SIMD opcode %#x not in its 2-byte canonical encoding, which wazero reads differently", sub)
			return 0, pops, pushes
		}
		p++
	}
	s := simdOps[sub]
	in.Op = OpSIMD | Op(sub)
	pops, pushes = uint32(s.pops), uint32(s.pushes)
	switch s.kind {
	case simdPlain:
		return p, pops, pushes
	case simdMem, simdMemLane:
		if !r.needMemory(0xfd, at) {
			return 0, pops, pushes
		}
		if p = r.memarg(p, s.align); p == 0 {
			return 0, pops, pushes
		}
		if s.kind == simdMem {
			return p, pops, pushes
		}
		return r.lane(p, s.lanes), pops, pushes
	case simdLane:
		return r.lane(p, s.lanes), pops, pushes
	case simdConst:
		if len(b)-p < 16 {
			r.fail(ErrMalformed, p, "v128.const: truncated")
			return 0, pops, pushes
		}
		for k := 7; k >= 0; k-- {
			in.Const = in.Const<<8 | uint64(b[p+k])
		}
		return p + 16, pops, pushes
	case simdShuffle:
		if len(b)-p < 16 {
			r.fail(ErrMalformed, p, "i8x16.shuffle: truncated")
			return 0, pops, pushes
		}
		for k := range 16 {
			if b[p+k] >= 32 {
				r.fail(ErrMalformed, p+k, "i8x16.shuffle lane %d", b[p+k])
				return 0, pops, pushes
			}
		}
		return p + 16, pops, pushes
	}
	r.fail(ErrMalformed, at, "unknown SIMD opcode %#x", sub)
	return 0, pops, pushes
}

func (r *Reader) lane(p int, lanes uint8) int {
	if p >= len(r.body) {
		r.fail(ErrMalformed, p, "lane index: truncated")
		return 0
	}
	if l := r.body[p]; l >= lanes {
		r.fail(ErrMalformed, p, "lane %d of %d", l, lanes)
		return 0
	}
	r.in.Lane = r.body[p]
	return p + 1
}
