package interrupt

import (
	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// genModule builds a small valid module from the decisions in data, for
// the semantic fuzz target: functions of type [i32] -> [i32], exported as
// f0, f1, ..., made of nested blocks, loops and ifs, branches of every
// kind to every label (the function's own included), returns, direct and
// indirect calls, loads, stores, globals and bulk memory operations.
// Function i calls only functions after it and every loop runs at most 4
// times, so that every call ends, quickly.
func genModule(data []byte) []byte {
	g := &gen{data: data}
	nfuncs := 1 + int(g.next()%4)
	var code [][]byte
	for i := range nfuncs {
		code = append(code, g.function(i, nfuncs))
	}
	sec := func(b []byte, id wasmbin.SectionID, n int, items ...[]byte) []byte {
		p := wasmbin.AppendU32(nil, uint32(n))
		for _, it := range items {
			p = append(p, it...)
		}
		return wasmbin.AppendSection(b, id, p)
	}
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = sec(b, wasmbin.SecType, 1, []byte{0x60, 1, 0x7f, 1, 0x7f})
	funcs := make([]byte, nfuncs)
	b = sec(b, wasmbin.SecFunction, nfuncs, funcs)
	b = sec(b, wasmbin.SecTable, 1, []byte{0x70, 0, byte(nfuncs)})
	b = sec(b, wasmbin.SecMemory, 1, []byte{1, 1, 2})
	b = sec(b, wasmbin.SecGlobal, 1, []byte{0x7f, 1, 0x41, 0, 0x0b})
	var exports []byte
	for i := range nfuncs {
		exports = wasmbin.AppendName(exports, "f"+string(rune('0'+i)))
		exports = append(exports, 0, byte(i))
	}
	b = sec(b, wasmbin.SecExport, nfuncs, exports)
	elem := []byte{0, 0x41, 0, 0x0b, byte(nfuncs)} // active, table 0, offset 0
	for i := range nfuncs {
		elem = append(elem, byte(i))
	}
	b = sec(b, wasmbin.SecElement, 1, elem)
	b = sec(b, wasmbin.SecDataCount, 1)
	var bodies []byte
	for _, c := range code {
		bodies = append(wasmbin.AppendU32(bodies, uint32(len(c))), c...)
	}
	b = sec(b, wasmbin.SecCode, nfuncs, bodies)
	data16 := append([]byte{1}, wasmbin.AppendName(nil, "0123456789abcdef")...) // passive
	return sec(b, wasmbin.SecData, 1, data16)
}

type gen struct {
	data []byte
	pos  int

	fn, nfuncs int
	labels     []bool // open labels, outermost first: whether a branch to it carries an i32
	locals     int    // declared locals: 0 is the param, then one per loop counter
	loops      int
	budget     int // instructions left in this function
}

func (g *gen) next() byte {
	if g.pos >= len(g.data) {
		return 0
	}
	b := g.data[g.pos]
	g.pos++
	return b
}

func (g *gen) function(i, nfuncs int) []byte {
	g.fn, g.nfuncs, g.labels, g.locals, g.loops, g.budget = i, nfuncs, []bool{true}, 0, 0, 200
	body := g.expr(nil, 0)
	body = append(body, 0x0b)
	locals := []byte{0}
	if g.locals > 0 {
		locals = []byte{1, byte(g.locals), 0x7f}
	}
	return append(locals, body...)
}

// arity1 returns the relative depth of a label whose branches carry an
// i32, chosen by c.
func (g *gen) arity1(c byte) uint32 {
	var ds []uint32
	for i, v := range g.labels {
		if v {
			ds = append(ds, uint32(len(g.labels)-1-i))
		}
	}
	return ds[int(c)%len(ds)]
}

// expr appends code that pushes one i32.
func (g *gen) expr(b []byte, depth int) []byte {
	g.budget--
	c := g.next()
	if depth > 5 || g.budget <= 0 {
		c %= 2
	}
	switch c % 20 {
	case 0:
		return wasmbin.AppendS32(append(b, 0x41), int32(g.next())-64)
	case 1:
		return append(b, 0x20, 0)
	case 2:
		b = g.expr(b, depth+1)
		b = g.expr(b, depth+1)
		ops := []byte{0x6a, 0x6b, 0x6c, 0x73, 0x71, 0x76, 0x77, 0x6e} // add sub mul xor and shr_u rotl div_u
		return append(b, ops[int(g.next())%len(ops)])
	case 3: // if (result i32)
		b = g.expr(b, depth+1)
		b = append(b, 0x04, 0x7f)
		g.labels = append(g.labels, true)
		b = g.expr(b, depth+1)
		b = append(b, 0x05)
		b = g.expr(b, depth+1)
		g.labels = g.labels[:len(g.labels)-1]
		return append(b, 0x0b)
	case 4: // block (result i32)
		b = append(b, 0x02, 0x7f)
		g.labels = append(g.labels, true)
		b = g.expr(b, depth+1)
		if g.next()%2 == 0 {
			b = append(b, 0x1a)
			b = g.expr(b, depth+1)
		}
		g.labels = g.labels[:len(g.labels)-1]
		return append(b, 0x0b)
	case 5: // a loop of at most 4 iterations
		if g.loops >= 2 {
			return append(b, 0x20, 0)
		}
		g.loops++
		g.locals++
		ctr := uint32(g.locals)
		b = append(b, 0x41, 0, 0x21)
		b = wasmbin.AppendU32(b, ctr)
		b = append(b, 0x03, 0x7f)
		g.labels = append(g.labels, false)
		b = g.expr(b, depth+1)
		b = append(b, 0x1a)
		b = wasmbin.AppendU32(append(b, 0x20), ctr)
		b = append(b, 0x41, 1, 0x6a, 0x22)
		b = wasmbin.AppendU32(b, ctr)
		b = append(b, 0x41, byte(1+g.next()%4), 0x49, 0x0d, 0) // i32.lt_u, br_if 0
		b = g.expr(b, depth+1)
		g.labels = g.labels[:len(g.labels)-1]
		return append(b, 0x0b)
	case 6: // br to a label carrying an i32, the function's own among them
		b = g.expr(b, depth+1)
		return wasmbin.AppendU32(append(b, 0x0c), g.arity1(g.next()))
	case 7: // br_if
		b = g.expr(b, depth+1)
		b = g.expr(b, depth+1)
		return wasmbin.AppendU32(append(b, 0x0d), g.arity1(g.next()))
	case 8:
		b = g.expr(b, depth+1)
		return append(b, 0x0f)
	case 9, 10: // a call of a later function, direct or indirect
		if g.fn+1 >= g.nfuncs {
			return append(b, 0x20, 0)
		}
		callee := g.fn + 1 + int(g.next())%(g.nfuncs-g.fn-1)
		b = g.expr(b, depth+1)
		if c%20 == 9 {
			return wasmbin.AppendU32(append(b, 0x10), uint32(callee))
		}
		b = wasmbin.AppendS32(append(b, 0x41), int32(callee))
		return append(b, 0x11, 0, 0)
	case 11: // load
		b = g.expr(b, depth+1)
		b = wasmbin.AppendS32(append(b, 0x41), 0xfffc)
		return append(b, 0x71, 0x28, 2, 0)
	case 12: // store, then a value
		b = g.expr(b, depth+1)
		b = wasmbin.AppendS32(append(b, 0x41), 0xfffc)
		b = append(b, 0x71)
		b = g.expr(b, depth+1)
		b = append(b, 0x36, 2, 0)
		return g.expr(b, depth+1)
	case 13: // global.set, global.get
		b = g.expr(b, depth+1)
		return append(b, 0x24, 0, 0x23, 0)
	case 14, 15: // memory.fill or memory.copy of up to 255 bytes
		for range 3 {
			b = g.expr(b, depth+1)
			b = wasmbin.AppendS32(append(b, 0x41), 0xff)
			b = append(b, 0x71)
		}
		if c%20 == 14 {
			b = append(b, 0xfc, 11, 0)
		} else {
			b = append(b, 0xfc, 10, 0, 0)
		}
		return g.expr(b, depth+1)
	case 16: // memory.init of 4 bytes of the passive segment
		b = g.expr(b, depth+1)
		b = wasmbin.AppendS32(append(b, 0x41), 0xff)
		b = append(b, 0x71, 0x41, 0, 0x41, 4, 0xfc, 8, 0, 0)
		return g.expr(b, depth+1)
	case 17: // br_table over labels carrying an i32
		b = g.expr(b, depth+1)
		b = g.expr(b, depth+1)
		n := int(g.next() % 4)
		b = wasmbin.AppendU32(append(b, 0x0e), uint32(n))
		for range n + 1 {
			b = wasmbin.AppendU32(b, g.arity1(g.next()))
		}
		return b
	case 18:
		b = g.expr(b, depth+1)
		b = g.expr(b, depth+1)
		b = g.expr(b, depth+1)
		return append(b, 0x1b)
	default: // local.tee of the param
		b = g.expr(b, depth+1)
		return append(b, 0x22, 0)
	}
}
