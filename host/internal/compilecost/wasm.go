package main

// A small WebAssembly binary encoder: just what the shape generators need,
// so that the program writes its modules itself and needs no wat2wasm.

// Value types and block types of the binary format.
const (
	i32       = 0x7f
	i64       = 0x7e
	f32       = 0x7d
	f64       = 0x7c
	v128      = 0x7b
	funcref   = 0x70
	blockVoid = 0x40
)

// Opcodes the generators emit.
const (
	opUnreachable  = 0x00
	opNop          = 0x01
	opBlock        = 0x02
	opLoop         = 0x03
	opIf           = 0x04
	opElse         = 0x05
	opEnd          = 0x0b
	opBr           = 0x0c
	opBrIf         = 0x0d
	opBrTable      = 0x0e
	opReturn       = 0x0f
	opCall         = 0x10
	opCallIndirect = 0x11
	opDrop         = 0x1a
	opSelect       = 0x1b
	opLocalGet     = 0x20
	opLocalSet     = 0x21
	opLocalTee     = 0x22
	opGlobalGet    = 0x23
	opGlobalSet    = 0x24
	opI32Load      = 0x28
	opI32Store     = 0x36
	opI32Const     = 0x41
	opI64Const     = 0x42
	opI32Eqz       = 0x45
	opI32LtS       = 0x48
	opI32Add       = 0x6a
	opI32Sub       = 0x6b
	opI32Mul       = 0x6c
	opI32Or        = 0x72
	opI32Xor       = 0x73
)

// Section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

func appendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	b = appendULEB(b, uint64(len(s)))
	return append(b, s...)
}

// funcType is a function signature: value types, one byte each.
type funcType struct{ params, results []byte }

func (t funcType) encode(b []byte) []byte {
	b = append(b, 0x60)
	b = appendULEB(b, uint64(len(t.params)))
	b = append(b, t.params...)
	b = appendULEB(b, uint64(len(t.results)))
	return append(b, t.results...)
}

// importFunc is a function import.
type importFunc struct {
	module, name string
	typ          uint32
}

// global is a defined global with a constant initialiser.
type global struct {
	typ     byte
	mutable bool
	init    int64
}

// export is one export entry.
type export struct {
	name  string
	kind  byte // 0 func, 1 table, 2 memory, 3 global
	index uint32
}

// localDecl is one entry of a function's locals vector: count locals of typ.
type localDecl struct {
	count uint32
	typ   byte
}

// function is a defined function: its type, locals and body (the body's
// final end included).
type function struct {
	typ    uint32
	locals []localDecl
	body   []byte
}

// elemSegment is an active element segment of function indexes into table 0.
type elemSegment struct {
	offset int32
	funcs  []uint32
}

// dataSegment is an active data segment in memory 0.
type dataSegment struct {
	offset int32
	bytes  []byte
}

// module is a module under construction; encode writes it.
type module struct {
	types    []funcType
	imports  []importFunc
	funcs    []function
	table    *uint32 // minimum size of table 0, if any
	memory   *uint32 // minimum pages of memory 0, if any
	globals  []global
	exports  []export
	elems    []elemSegment
	datas    []dataSegment
	dataCnt  bool // emit the data count section
	customSz int  // bytes of one custom section to pad the module, if > 0
}

// addType returns the index of t, adding it if it is new.
func (m *module) addType(t funcType) uint32 {
	for i, u := range m.types {
		if string(u.params) == string(t.params) && string(u.results) == string(t.results) {
			return uint32(i)
		}
	}
	m.types = append(m.types, t)
	return uint32(len(m.types) - 1)
}

// addFunc adds a function and returns its index in the function index space.
func (m *module) addFunc(f function) uint32 {
	m.funcs = append(m.funcs, f)
	return uint32(len(m.imports) + len(m.funcs) - 1)
}

func section(b []byte, id byte, payload []byte) []byte {
	b = append(b, id)
	b = appendULEB(b, uint64(len(payload)))
	return append(b, payload...)
}

func (m *module) encode() []byte {
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	var p []byte
	if len(m.types) > 0 {
		p = appendULEB(p[:0], uint64(len(m.types)))
		for _, t := range m.types {
			p = t.encode(p)
		}
		out = section(out, secType, p)
	}
	if len(m.imports) > 0 {
		p = appendULEB(p[:0], uint64(len(m.imports)))
		for _, im := range m.imports {
			p = appendName(p, im.module)
			p = appendName(p, im.name)
			p = append(p, 0)
			p = appendULEB(p, uint64(im.typ))
		}
		out = section(out, secImport, p)
	}
	if len(m.funcs) > 0 {
		p = appendULEB(p[:0], uint64(len(m.funcs)))
		for _, f := range m.funcs {
			p = appendULEB(p, uint64(f.typ))
		}
		out = section(out, secFunction, p)
	}
	if m.table != nil {
		p = append(appendULEB(p[:0], 1), funcref, 0)
		p = appendULEB(p, uint64(*m.table))
		out = section(out, secTable, p)
	}
	if m.memory != nil {
		p = append(appendULEB(p[:0], 1), 0)
		p = appendULEB(p, uint64(*m.memory))
		out = section(out, secMemory, p)
	}
	if len(m.globals) > 0 {
		p = appendULEB(p[:0], uint64(len(m.globals)))
		for _, g := range m.globals {
			p = append(p, g.typ, boolByte(g.mutable))
			switch g.typ {
			case i64:
				p = appendSLEB(append(p, opI64Const), g.init)
			default:
				p = appendSLEB(append(p, opI32Const), g.init)
			}
			p = append(p, opEnd)
		}
		out = section(out, secGlobal, p)
	}
	if len(m.exports) > 0 {
		p = appendULEB(p[:0], uint64(len(m.exports)))
		for _, e := range m.exports {
			p = appendName(p, e.name)
			p = append(p, e.kind)
			p = appendULEB(p, uint64(e.index))
		}
		out = section(out, secExport, p)
	}
	if len(m.elems) > 0 {
		p = appendULEB(p[:0], uint64(len(m.elems)))
		for _, e := range m.elems {
			p = append(p, 0, opI32Const)
			p = appendSLEB(p, int64(e.offset))
			p = append(p, opEnd)
			p = appendULEB(p, uint64(len(e.funcs)))
			for _, f := range e.funcs {
				p = appendULEB(p, uint64(f))
			}
		}
		out = section(out, secElement, p)
	}
	if m.dataCnt {
		out = section(out, secDataCount, appendULEB(p[:0], uint64(len(m.datas))))
	}
	if len(m.funcs) > 0 {
		p = appendULEB(p[:0], uint64(len(m.funcs)))
		var fb []byte
		for _, f := range m.funcs {
			fb = appendULEB(fb[:0], uint64(len(f.locals)))
			for _, l := range f.locals {
				fb = append(appendULEB(fb, uint64(l.count)), l.typ)
			}
			fb = append(fb, f.body...)
			p = appendULEB(p, uint64(len(fb)))
			p = append(p, fb...)
		}
		out = section(out, secCode, p)
	}
	if len(m.datas) > 0 {
		p = appendULEB(p[:0], uint64(len(m.datas)))
		for _, d := range m.datas {
			p = append(p, 0, opI32Const)
			p = appendSLEB(p, int64(d.offset))
			p = append(p, opEnd)
			p = appendULEB(p, uint64(len(d.bytes)))
			p = append(p, d.bytes...)
		}
		out = section(out, secData, p)
	}
	if m.customSz > 0 {
		p = appendName(p[:0], "pad")
		p = append(p, make([]byte, m.customSz)...)
		out = section(out, secCustom, p)
	}
	return out
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// code appends instructions to a function body.
type code []byte

func (c code) op(ops ...byte) code { return append(c, ops...) }

func (c code) u(op byte, imm uint64) code { return appendULEB(append(c, op), imm) }

func (c code) i32(v int32) code { return appendSLEB(append(c, opI32Const), int64(v)) }

func (c code) localGet(i uint32) code { return c.u(opLocalGet, uint64(i)) }
func (c code) localSet(i uint32) code { return c.u(opLocalSet, uint64(i)) }
func (c code) call(i uint32) code     { return c.u(opCall, uint64(i)) }

// load and store use a natural alignment and offset 0.
func (c code) load() code  { return append(c, opI32Load, 2, 0) }
func (c code) store() code { return append(c, opI32Store, 2, 0) }
