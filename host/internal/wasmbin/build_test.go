package wasmbin

// A small module builder for the tests, on the package's own writers.

// mod is a module under construction: each field holds the entries of
// one section, which bytes writes when there are any (or when forced).
type mod struct {
	types, imports, tables, memories, globals, exports, elements, codes, data [][]byte
	funcs                                                                     []uint32
	start, dataCount                                                          *uint32
	customs                                                                   [][]byte // whole sections, written first
	trailer                                                                   []byte   // appended as is
}

func vec(items [][]byte) []byte {
	b := AppendU32(nil, uint32(len(items)))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func u32(v uint32) []byte { return AppendU32(nil, v) }

// bytes writes the module.
func (m mod) bytes() []byte {
	b := append([]byte(nil), header...)
	for _, c := range m.customs {
		b = append(b, c...)
	}
	add := func(id SectionID, items [][]byte) {
		if items != nil {
			b = AppendSection(b, id, vec(items))
		}
	}
	add(SecType, m.types)
	add(SecImport, m.imports)
	if m.funcs != nil {
		var f [][]byte
		for _, t := range m.funcs {
			f = append(f, u32(t))
		}
		add(SecFunction, f)
	}
	add(SecTable, m.tables)
	add(SecMemory, m.memories)
	add(SecGlobal, m.globals)
	add(SecExport, m.exports)
	if m.start != nil {
		b = AppendSection(b, SecStart, u32(*m.start))
	}
	add(SecElement, m.elements)
	if m.dataCount != nil {
		b = AppendSection(b, SecDataCount, u32(*m.dataCount))
	}
	add(SecCode, m.codes)
	add(SecData, m.data)
	return append(b, m.trailer...)
}

func ptr(v uint32) *uint32 { return &v }

// functype writes a function type.
func functype(params, results []ValType) []byte {
	b := []byte{0x60}
	b = AppendU32(b, uint32(len(params)))
	for _, p := range params {
		b = append(b, byte(p))
	}
	b = AppendU32(b, uint32(len(results)))
	for _, r := range results {
		b = append(b, byte(r))
	}
	return b
}

// body writes a function body: its size, local declarations and code
// (which must end with the function's end).
func body(locals []LocalDecl, code ...byte) []byte {
	b := AppendU32(nil, uint32(len(locals)))
	for _, l := range locals {
		b = append(AppendU32(b, l.Count), byte(l.Type))
	}
	b = append(b, code...)
	return append(AppendU32(nil, uint32(len(b))), b...)
}

func name(s string) []byte { return AppendName(nil, s) }

// rich is a module with one of everything code can name: types
// 0: () -> (), 1: (i32) -> (i32), 2: (i32 i32) -> (i32 i64); function 0
// imported ("env" "f", type 0); a table 0 of 2 funcrefs and a table 1 of
// externref; a memory of one page; global 0 imported (immutable i32),
// global 1 mutable i32; function 1 exported (so ref.func may name it);
// one passive element segment and one passive data segment (with a data
// count). Its function 1, of type fnType, has one i32 local and code.
func rich(fnType uint32, code ...byte) mod {
	return mod{
		types: [][]byte{
			functype(nil, nil),
			functype([]ValType{I32}, []ValType{I32}),
			functype([]ValType{I32, I32}, []ValType{I32, I64}),
		},
		imports: [][]byte{
			cat(name("env"), name("f"), []byte{0}, u32(0)),
			cat(name("env"), name("g"), []byte{3, byte(I32), 0}),
		},
		funcs:     []uint32{fnType},
		tables:    [][]byte{{byte(FuncRef), 0, 2}, {byte(ExternRef), 0, 0}},
		memories:  [][]byte{{0, 1}},
		globals:   [][]byte{{byte(I32), 1, 0x41, 0, 0x0b}},
		exports:   [][]byte{cat(name("fn"), []byte{0}, u32(1))},
		elements:  [][]byte{{1, 0, 1, 1}},
		dataCount: ptr(1),
		codes:     [][]byte{body([]LocalDecl{{1, I32}}, code...)},
		data:      [][]byte{cat([]byte{1}, u32(3), []byte("abc"))},
	}
}

// fn is rich(0, code...).bytes(): a body of type () -> ().
func fn(code ...byte) []byte { return rich(0, code...).bytes() }
