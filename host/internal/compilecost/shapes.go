package main

import "fmt"

// A generator for each shape of module the structural limits bound: each
// builds a valid module from one parameter n. Every function that takes
// the parameter uses it as a condition or an operand, so that the compiler
// cannot fold the code away.

// shapeGen is one parametrised shape.
type shapeGen struct {
	name  string
	count string // what n counts
	start int    // the sweep's first n
	// checks says whether the interrupt checks change the shape (loops or
	// function entries); the sweep measures the others raw only.
	checks bool
	// gen builds the module; m is the second factor of a product shape
	// (n = m unless -m sets it), ignored by the others.
	gen func(n, m int) *module
}

var (
	// typeI32 is [i32] -> [i32], the type of each shape's main function.
	typeI32 = funcType{params: []byte{i32}, results: []byte{i32}}
	typeNop = funcType{}
)

// oneFunc is a module with one page of memory and one exported function of
// type [i32] -> [i32] with the given locals and body.
func oneFunc(locals []localDecl, body code) *module {
	one := uint32(1)
	m := &module{memory: &one}
	t := m.addType(typeI32)
	f := m.addFunc(function{typ: t, locals: locals, body: body})
	m.exports = append(m.exports, export{name: "f", kind: 0, index: f})
	return m
}

// ret ends a body of type [i32] -> [i32].
func ret(c code) code { return c.localGet(0).op(opEnd) }

var shapes = []shapeGen{
	{"seq_loops", "loops (loop local.get br_if end)", 1000, true, func(n, _ int) *module {
		var c code
		for range n {
			c = c.op(opLoop, blockVoid).localGet(0).u(opBrIf, 0).op(opEnd)
		}
		return oneFunc(nil, ret(c))
	}},
	{"seq_loops_empty", "loops (loop end)", 1000, true, func(n, _ int) *module {
		var c code
		for range n {
			c = c.op(opLoop, blockVoid, opEnd)
		}
		return oneFunc(nil, ret(c))
	}},
	{"nested_loops", "nesting depth, each level branching back", 250, true, func(n, _ int) *module {
		var c code
		for range n {
			c = c.op(opLoop, blockVoid)
		}
		c = c.localGet(0).u(opBrIf, 0)
		for i := range n {
			c = c.op(opEnd)
			if i < n-1 {
				c = c.localGet(0).u(opBrIf, 0)
			}
		}
		return oneFunc(nil, ret(c))
	}},
	{"nested_loops_empty", "nesting depth (loop ... end)", 250, true, func(n, _ int) *module {
		var c code
		for range n {
			c = c.op(opLoop, blockVoid)
		}
		for range n {
			c = c.op(opEnd)
		}
		return oneFunc(nil, ret(c))
	}},
	{"seq_ifs", "ifs one after another (local.get if end)", 1000, false, func(n, _ int) *module {
		var c code
		for range n {
			c = c.localGet(0).op(opIf, blockVoid, opEnd)
		}
		return oneFunc(nil, ret(c))
	}},
	{"seq_br_ifs", "br_ifs one after another in one block", 1000, false, func(n, _ int) *module {
		c := code{}.op(opBlock, blockVoid)
		for range n {
			c = c.localGet(0).u(opBrIf, 0)
		}
		return oneFunc(nil, ret(c.op(opEnd)))
	}},
	{"nested_blocks", "nesting depth (block ... end)", 1000, false, func(n, _ int) *module {
		var c code
		for range n {
			c = c.op(opBlock, blockVoid)
		}
		for range n {
			c = c.op(opEnd)
		}
		return oneFunc(nil, ret(c))
	}},
	{"nested_ifs", "nesting depth (local.get if ... end)", 1000, false, func(n, _ int) *module {
		var c code
		for range n {
			c = c.localGet(0).op(opIf, blockVoid)
		}
		for range n {
			c = c.op(opEnd)
		}
		return oneFunc(nil, ret(c))
	}},
	{"br_table", "targets of one br_table (all to one block)", 4000, false, func(n, _ int) *module {
		c := code{}.op(opBlock, blockVoid).localGet(0).u(opBrTable, uint64(n-1))
		for range n {
			c = c.op(0)
		}
		return oneFunc(nil, ret(c.op(opEnd)))
	}},
	{"br_table_dispatch", "targets of one br_table, each to a block of its own (Go's dispatch)", 250, false, func(n, _ int) *module {
		var c code
		for range n {
			c = c.op(opBlock, blockVoid)
		}
		c = c.localGet(0).u(opBrTable, uint64(n-1))
		for k := range n {
			c = appendULEB(c, uint64(k))
		}
		for range n {
			c = c.op(opEnd).localGet(0).i32(1).op(opI32Add).localSet(0)
		}
		return oneFunc(nil, ret(c))
	}},
	{"br_table_args", "targets of one br_table to a block of 100 results", 250, false, func(n, _ int) *module {
		m := oneFunc(nil, nil)
		res := make([]byte, 100)
		for i := range res {
			res[i] = i32
		}
		bt := m.addType(funcType{results: res})
		c := code{}.u(opBlock, uint64(bt))
		for range res {
			c = c.localGet(0)
		}
		c = c.localGet(0).u(opBrTable, uint64(n-1))
		for range n {
			c = c.op(0)
		}
		c = c.op(opEnd)
		for range res {
			c = c.op(opDrop)
		}
		m.funcs[0].body = ret(c)
		return m
	}},
	{"locals_one", "locals in one declaration", 1 << 14, false, func(n, _ int) *module {
		return oneFunc([]localDecl{{uint32(n), i32}}, ret(nil))
	}},
	{"locals_many", "locals, one declaration each", 1 << 14, false, func(n, _ int) *module {
		ls := make([]localDecl, n)
		for i := range ls {
			ls[i] = localDecl{1, i32}
		}
		return oneFunc(ls, ret(nil))
	}},
	{"locals_live", "locals each set, then all summed", 1000, false, func(n, _ int) *module {
		var c code
		for k := 1; k <= n; k++ {
			c = c.localGet(0).i32(int32(k)).op(opI32Add).localSet(uint32(k))
		}
		c = c.localGet(1)
		for k := 2; k <= n; k++ {
			c = c.localGet(uint32(k)).op(opI32Add)
		}
		return oneFunc([]localDecl{{uint32(n), i32}}, c.op(opEnd))
	}},
	{"straight_arith", "instructions (local.get i32.const i32.add local.set)", 4000, false, func(n, _ int) *module {
		var c code
		for range n / 4 {
			c = c.localGet(0).i32(1).op(opI32Add).localSet(0)
		}
		return oneFunc(nil, ret(c))
	}},
	{"straight_mem", "instructions (local.get local.get i32.load i32.store)", 4000, false, func(n, _ int) *module {
		var c code
		for range n / 4 {
			c = c.localGet(0).localGet(0).load().store()
		}
		return oneFunc(nil, ret(c))
	}},
	{"straight_calls", "calls to a [] -> [] function", 1000, true, func(n, _ int) *module {
		m := oneFunc(nil, nil)
		g := m.addFunc(function{typ: m.addType(typeNop), body: code{opEnd}})
		var c code
		for range n {
			c = c.call(g)
		}
		m.funcs[0].body = ret(c)
		return m
	}},
	{"calls_x_globals", "calls (n), with m mutable globals", 250, true, func(n, m int) *module {
		mod := oneFunc(nil, nil)
		g := mod.addFunc(function{typ: mod.addType(typeNop), body: code{opEnd}})
		var c code
		for range n {
			c = c.call(g)
		}
		mod.funcs[0].body = ret(c)
		mod.globals = make([]global, m)
		for i := range mod.globals {
			mod.globals[i] = global{typ: i32, mutable: true}
		}
		return mod
	}},
	{"live_values", "values live on the operand stack at once", 1000, false, func(n, _ int) *module {
		var c code
		for k := range n {
			c = c.localGet(0).i32(int32(k)).op(opI32Xor)
		}
		for range n - 1 {
			c = c.op(opI32Add)
		}
		return oneFunc(nil, c.op(opEnd))
	}},
	{"live_churn", "instructions run while 250 values stay live on the stack", 1000, false, func(n, _ int) *module {
		const live = 250
		var c code
		for k := range live {
			c = c.localGet(0).i32(int32(k)).op(opI32Xor)
		}
		for range n / 4 {
			c = c.localGet(0).i32(1).op(opI32Add).localSet(0)
		}
		for range live - 1 {
			c = c.op(opI32Add)
		}
		return oneFunc(nil, c.op(opEnd))
	}},
	{"live_across_ifs", "stack values (n) live across m ifs", 250, false, func(n, m int) *module {
		var c code
		for k := range n {
			c = c.localGet(0).i32(int32(k)).op(opI32Xor)
		}
		for range m {
			c = c.localGet(0).op(opIf, blockVoid).localGet(0).i32(1).op(opI32Add).localSet(0).op(opEnd)
		}
		for range n - 1 {
			c = c.op(opI32Add)
		}
		return oneFunc(nil, c.op(opEnd))
	}},
	{"live_across_loops", "stack values (n) live across m loops", 250, true, func(n, m int) *module {
		var c code
		for k := range n {
			c = c.localGet(0).i32(int32(k)).op(opI32Xor)
		}
		for range m {
			c = c.op(opLoop, blockVoid).localGet(0).u(opBrIf, 0).op(opEnd)
		}
		for range n - 1 {
			c = c.op(opI32Add)
		}
		return oneFunc(nil, c.op(opEnd))
	}},
	{"locals_across_ifs", "locals (n) live across m ifs", 250, false, func(n, m int) *module {
		var c code
		for k := 1; k <= n; k++ {
			c = c.localGet(0).i32(int32(k)).op(opI32Add).localSet(uint32(k))
		}
		for range m {
			c = c.localGet(0).op(opIf, blockVoid).localGet(0).i32(1).op(opI32Add).localSet(0).op(opEnd)
		}
		c = c.localGet(1)
		for k := 2; k <= n; k++ {
			c = c.localGet(uint32(k)).op(opI32Add)
		}
		return oneFunc([]localDecl{{uint32(n), i32}}, c.op(opEnd))
	}},
	{"params_across_ifs", "params (n) live across m ifs", 250, false, func(n, m int) *module {
		// As locals_across_ifs, with params instead of declared locals:
		// wazero's SSA makes variables of both alike.
		one := uint32(1)
		mod := &module{memory: &one}
		wide := funcType{params: make([]byte, n), results: []byte{i32}}
		for i := range wide.params {
			wide.params[i] = i32
		}
		var c code
		for range m {
			c = c.localGet(0).op(opIf, blockVoid).localGet(0).i32(1).op(opI32Add).localSet(0).op(opEnd)
		}
		c = c.localGet(0)
		for k := 1; k < n; k++ {
			c = c.localGet(uint32(k)).op(opI32Add)
		}
		f := mod.addFunc(function{typ: mod.addType(wide), body: c.op(opEnd)})
		mod.exports = append(mod.exports, export{name: "f", kind: 0, index: f})
		return mod
	}},
	{"locals_across_loops", "locals (n) live across m loops", 250, true, func(n, m int) *module {
		var c code
		for k := 1; k <= n; k++ {
			c = c.localGet(0).i32(int32(k)).op(opI32Add).localSet(uint32(k))
		}
		for range m {
			c = c.op(opLoop, blockVoid).localGet(0).u(opBrIf, 0).op(opEnd)
		}
		c = c.localGet(1)
		for k := 2; k <= n; k++ {
			c = c.localGet(uint32(k)).op(opI32Add)
		}
		return oneFunc([]localDecl{{uint32(n), i32}}, c.op(opEnd))
	}},
	{"many_funcs", "functions (local.get 0)", 1000, true, func(n, _ int) *module {
		m := oneFunc(nil, ret(nil))
		for range n - 1 {
			m.addFunc(function{typ: 0, body: ret(nil)})
		}
		return m
	}},
	{"many_globals", "mutable globals", 1000, false, func(n, _ int) *module {
		m := oneFunc(nil, ret(nil))
		m.globals = make([]global, n)
		for i := range m.globals {
			m.globals[i] = global{typ: i32, mutable: true}
		}
		return m
	}},
	{"funcs_x_globals", "functions (n), with m mutable globals", 250, true, func(n, m int) *module {
		mod := oneFunc(nil, ret(nil))
		for range n - 1 {
			mod.addFunc(function{typ: 0, body: ret(nil)})
		}
		mod.globals = make([]global, m)
		for i := range mod.globals {
			mod.globals[i] = global{typ: i32, mutable: true}
		}
		return mod
	}},
	{"many_types", "types ([i32] -> [i32], repeated)", 1000, false, func(n, _ int) *module {
		m := oneFunc(nil, ret(nil))
		for range n - 1 {
			m.types = append(m.types, typeI32)
		}
		return m
	}},
	{"wide_types", "types of 1,000 i32 params each", 16, false, func(n, _ int) *module {
		m := oneFunc(nil, ret(nil))
		wide := funcType{params: make([]byte, 1000)}
		for i := range wide.params {
			wide.params[i] = i32
		}
		for range n {
			m.types = append(m.types, wide)
		}
		return m
	}},
	{"many_data", "data segments of 1 byte", 1000, false, func(n, _ int) *module {
		m := oneFunc(nil, ret(nil))
		*m.memory = uint32(n/65536 + 1)
		m.datas = make([]dataSegment, n)
		for i := range m.datas {
			m.datas[i] = dataSegment{offset: int32(i), bytes: []byte{1}}
		}
		return m
	}},
	{"many_elems", "element segments of 1 function", 1000, false, func(n, _ int) *module {
		m := oneFunc(nil, ret(nil))
		size := uint32(n)
		m.table = &size
		m.elems = make([]elemSegment, n)
		for i := range m.elems {
			m.elems[i] = elemSegment{offset: int32(i), funcs: []uint32{0}}
		}
		return m
	}},
	{"many_exports", "exports of one function", 1000, false, func(n, _ int) *module {
		m := oneFunc(nil, ret(nil))
		for i := range n - 1 {
			m.exports = append(m.exports, export{name: fmt.Sprintf("e%d", i), kind: 0, index: 0})
		}
		return m
	}},
	{"many_imports", "function imports", 1000, false, func(n, _ int) *module {
		m := &module{}
		t := m.addType(typeNop)
		for i := range n {
			m.imports = append(m.imports, importFunc{module: "env", name: fmt.Sprintf("f%d", i), typ: t})
		}
		one := uint32(1)
		m.memory = &one
		f := m.addFunc(function{typ: m.addType(typeI32), body: ret(code{}.call(0))})
		m.exports = append(m.exports, export{name: "f", kind: 0, index: f})
		return m
	}},
	{"params", "i32 params of a function summed, and its caller", 16, false, func(n, _ int) *module {
		wide := funcType{params: make([]byte, n), results: []byte{i32}}
		for i := range wide.params {
			wide.params[i] = i32
		}
		m := oneFunc(nil, nil)
		callee := m.addFunc(function{typ: m.addType(wide)})
		c := code{}.localGet(0)
		for k := 1; k < n; k++ {
			c = c.localGet(uint32(k)).op(opI32Add)
		}
		m.funcs[1].body = c.op(opEnd)
		var caller code
		for range n {
			caller = caller.localGet(0)
		}
		m.funcs[0].body = caller.call(callee).op(opEnd)
		return m
	}},
	{"results", "i32 results of a function, and its caller", 16, false, func(n, _ int) *module {
		wide := funcType{results: make([]byte, n)}
		for i := range wide.results {
			wide.results[i] = i32
		}
		m := oneFunc(nil, nil)
		callee := m.addFunc(function{typ: m.addType(wide)})
		var c code
		for k := range n {
			c = c.i32(int32(k))
		}
		m.funcs[1].body = c.op(opEnd)
		caller := code{}.call(callee)
		for range n {
			caller = caller.op(opDrop)
		}
		m.funcs[0].body = ret(caller)
		return m
	}},
}

func shapeByName(name string) (shapeGen, bool) {
	for _, s := range shapes {
		if s.name == name {
			return s, true
		}
	}
	return shapeGen{}, false
}
