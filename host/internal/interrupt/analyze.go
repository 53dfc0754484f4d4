package interrupt

import (
	"fmt"

	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// How the rewrite charges fuel. Every check charges, in advance, the most
// the code can cost from that check to the next one, along any path: from
// a function's entry (Wf), from a loop's header (Wl), from a checkpoint.
// A path ends at the next check it meets: a loop header (the check sits
// right after the loop instruction, where both entering the loop and
// branching back to it arrive), a checkpoint, the function's end, or a
// trap. A call is charged its own cost only: the callee charges its body
// at its entry. Paths that leave a loop continue in the code around it and
// are charged by the loop's check, since the check that charged the code
// around the loop stopped counting at the loop header.
//
// Control flow is structured, so the most a path can cost from each
// instruction, T, is found in one backward pass: T(i) = w(i) + T of its
// successors, the largest for a branch; a branch to a block or an if
// lands after its end, a branch to a loop on its header (0: a check).
// Where T would pass maxSegment, a checkpoint (a check like a loop's) is
// put there and T starts again from 0, so that no charge is much more than
// maxSegment: a long straight line of code is split, and no guest code
// runs more than about maxSegment without a check.
//
// Charges are prepaid, and that leaves one gap to close. When a guest
// returns to Go (at a check whose charge ran out) its fuel starts again
// from Period, but the frames below the one that yielded may still run
// what their callers' checks charged before: the code after each pending
// call, up to its next check, at most R, the largest T after any call of
// the function. That work is paid from the previous period, so it runs
// without counting against the new one. It is bounded through the stack:
// each frame is charged, in stack bytes, at least R·StackLimit/(2·Period)
// (stackCharge), so the frames on the stack, whose charges sum to at most
// StackLimit, owe at most 2·Period of such work in all. The longest run
// between two returns to Go is thus at most about 3·Period + 2·maxSegment
// of the slowest code; Period for any guest not built to exploit the
// bound. (Owing Period only would double the stack charge of Go's
// functions, whose code after a call is long, for little: ordinary code
// is charged 50 to 200 times its time.)

// nodeKind is what the backward pass needs of an instruction.
type nodeKind uint8

const (
	kPlain nodeKind = iota
	kBlock
	kLoop
	kIf
	kElse
	kEnd      // of a block, loop or if; node.sub is the opener's kind
	kFinalEnd // the function's
	kBr
	kBrIf
	kBrTable // node.label is the first of node.n labels in funcPlan.targets
	kReturn
	kUnreachable
	kCall // call, call_indirect
	kBulk // memory.init/copy/fill, table.init/copy/fill; node.sub 1 for tables
)

type node struct {
	kind  nodeKind
	sub   uint8
	w     uint32
	label uint32 // br, br_if: the relative depth; br_table: see kBrTable
	n     uint32
	// charge is, for a loop, its check's charge; for any other
	// instruction, the charge of a checkpoint before it, 0 for none.
	charge uint32
}

// funcPlan is what the rewrite of one function body needs.
type funcPlan struct {
	nodes   []node
	targets []uint32 // of every br_table, in order

	entry     uint32 // fuel the entry check charges
	frame     uint32 // estimated frame, in bytes (frame.go)
	remainder uint32 // R: the most a frame may run after a call returns
	stack     uint32 // stack charge: max(frame, R·StackLimit/Period)

	scratch     bool // a bulk operation needs the scratch local
	loops       int
	bulk        int
	checkpoints int
}

// analyzer holds what the analysis of every function of one module shares.
type analyzer struct {
	m          *wasmbin.Module
	opts       Options
	maxSegment uint32
	frames     frameEstimator
}

func newAnalyzer(m *wasmbin.Module, opts Options) *analyzer {
	a := &analyzer{m: m, opts: opts, maxSegment: max(opts.Period/8, 1)}
	a.frames.init(m)
	return a
}

// analyze reads defined function i and plans its checks.
func (a *analyzer) analyze(i int) (*funcPlan, error) {
	m := a.m
	code := &m.Code[i]
	ft := m.Types[m.Functions[i]]
	p := &funcPlan{nodes: make([]node, 0, code.Instructions)}
	fe := &a.frames
	fe.begin(ft, code)

	// kinds of the open blocks, for the kind of each end
	var open []nodeKind
	r := m.Instructions(i)
	for r.Next() {
		in := r.Instr()
		nd := node{kind: kPlain, w: weight(in.Op)}
		switch in.Op {
		case wasmbin.OpBlock:
			nd.kind = kBlock
			open = append(open, kBlock)
		case wasmbin.OpLoop:
			nd.kind = kLoop
			open = append(open, kLoop)
			p.loops++
		case wasmbin.OpIf:
			nd.kind = kIf
			open = append(open, kIf)
		case wasmbin.OpElse:
			nd.kind = kElse
		case wasmbin.OpEnd:
			if in.Depth == 1 {
				nd.kind = kFinalEnd
			} else {
				nd.kind, nd.sub = kEnd, uint8(open[len(open)-1])
				open = open[:len(open)-1]
			}
		case wasmbin.OpBr, wasmbin.OpBrIf:
			nd.kind, nd.label = kBr, in.Index
			if in.Op == wasmbin.OpBrIf {
				nd.kind = kBrIf
			}
		case wasmbin.OpBrTable:
			nd.kind, nd.label, nd.n = kBrTable, uint32(len(p.targets)), in.Targets
			var err error
			if p.targets, err = appendTargets(p.targets, code.Body[in.Start+1:in.End], in.Targets); err != nil {
				return nil, fmt.Errorf("function[%d]: br_table at %d: %w", m.ImportedFuncs+uint32(i), in.Start, err)
			}
		case wasmbin.OpReturn:
			nd.kind = kReturn
		case wasmbin.OpUnreachable:
			nd.kind = kUnreachable
		case wasmbin.OpCall, wasmbin.OpCallIndirect:
			nd.kind = kCall
		default:
			if isBulk, table := bulk(in.Op); isBulk {
				nd.kind = kBulk
				if table {
					nd.sub = 1
				}
				p.scratch = true
				p.bulk++
			}
		}
		fe.add(len(p.nodes), in)
		p.nodes = append(p.nodes, nd)
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("function[%d]: %w", m.ImportedFuncs+uint32(i), err)
	}
	if len(p.nodes) == 0 || p.nodes[len(p.nodes)-1].kind != kFinalEnd {
		return nil, fmt.Errorf("function[%d]: the body has no final end: %w", m.ImportedFuncs+uint32(i), wasmbin.ErrMalformed)
	}
	a.charge(p)
	p.frame = fe.finish(p)
	p.stack = a.stackCharge(p.frame, p.remainder)
	return p, nil
}

// appendTargets appends the n labels of a br_table, whose immediates (the
// count, then the labels) are imm; Decode has checked them.
func appendTargets(dst []uint32, imm []byte, n uint32) ([]uint32, error) {
	_, off, ok := readU32(imm)
	if !ok {
		return nil, wasmbin.ErrMalformed
	}
	for range n {
		l, k, ok := readU32(imm[off:])
		if !ok {
			return nil, wasmbin.ErrMalformed
		}
		dst = append(dst, l)
		off += k
	}
	return dst, nil
}

// readU32 reads an unsigned LEB128 of at most 5 bytes.
func readU32(b []byte) (v uint32, n int, ok bool) {
	for shift := 0; n < len(b) && n < 5; shift += 7 {
		c := b[n]
		n++
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, n, true
		}
	}
	return 0, 0, false
}

// rctl is an open block of the backward pass.
type rctl struct {
	label   uint32 // T where a branch to the block lands
	elseT   uint32 // an if's: T at the start of its else
	hasElse bool
}

// charge runs the backward pass: the loops' charges, the checkpoints, the
// entry charge and R.
func (a *analyzer) charge(p *funcPlan) {
	nodes := p.nodes
	var stack []rctl
	labelT := func(l uint32) uint32 { return stack[len(stack)-1-int(l)].label }
	const exitT = costRestore
	var cur uint32 // T of the position after the current instruction
	for j := len(nodes) - 1; j >= 0; j-- {
		nd := &nodes[j]
		switch nd.kind {
		case kFinalEnd:
			cur = exitT
			stack = append(stack, rctl{label: exitT})
		case kEnd:
			label := cur
			if nodeKind(nd.sub) == kLoop {
				label = 0
			}
			stack = append(stack, rctl{label: label})
		case kElse:
			top := &stack[len(stack)-1]
			top.elseT, top.hasElse = cur, true
			cur = top.label // the then arm ends by jumping past the end
		case kIf:
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			other := top.label
			if top.hasElse {
				other = top.elseT
			}
			cur = add(nd.w, max(cur, other))
		case kBlock:
			stack = stack[:len(stack)-1]
		case kLoop:
			stack = stack[:len(stack)-1]
			nd.charge = add(cur, costLoopCheck)
			cur = 0 // whoever enters the loop meets its check first
		case kBr:
			cur = add(nd.w, labelT(nd.label))
		case kBrIf:
			cur = add(nd.w, max(cur, labelT(nd.label)))
		case kBrTable:
			t := uint32(0)
			for _, l := range p.targets[nd.label : nd.label+nd.n] {
				t = max(t, labelT(l))
			}
			cur = add(nd.w, t)
		case kReturn:
			cur = add(nd.w, exitT)
		case kUnreachable:
			cur = 0
		case kCall:
			p.remainder = max(p.remainder, cur)
			cur = add(nd.w, cur)
		default:
			cur = add(nd.w, cur)
		}
		// A checkpoint before this instruction, unless the entry check or
		// a loop's check is already there.
		if cur > a.maxSegment && j > 0 && nodes[j-1].kind != kLoop && nd.kind != kLoop {
			nd.charge = add(cur, costLoopCheck)
			cur = 0
			p.checkpoints++
		}
	}
	p.entry = add(cur, costEntryCheck)
}

// add adds fuel, saturating: no charge comes near 2^32 (a body has at most
// Limits.InstructionsPerFunction instructions and checkpoints cut paths),
// but a saturated charge stays an over-estimate.
func add(x, y uint32) uint32 {
	if s := x + y; s >= x {
		return s
	}
	return ^uint32(0)
}

// stackCharge is what a frame charges the stack budget: its estimated
// bytes, and at least R·StackLimit/(2·Period) so that the frames on the
// stack owe at most 2·Period of prepaid work (see the top of this file).
// No charge exceeds StackLimit+1: any larger one overflows at once all the
// same.
func (a *analyzer) stackCharge(frame, remainder uint32) uint32 {
	per := 2 * uint64(a.opts.Period)
	owed := (uint64(remainder)*uint64(a.opts.StackLimit) + per - 1) / per
	return uint32(min(max(uint64(frame), owed), uint64(a.opts.StackLimit)+1))
}
