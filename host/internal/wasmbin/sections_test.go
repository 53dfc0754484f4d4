package wasmbin

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sec(id SectionID, payload ...[]byte) []byte { return AppendSection(nil, id, cat(payload...)) }

// small is a module of one function of type () -> () whose body is code.
func small(code ...byte) mod {
	return mod{types: [][]byte{functype(nil, nil)}, funcs: []uint32{0}, codes: [][]byte{body(nil, code...)}}
}

func with(m mod, change func(*mod)) []byte {
	change(&m)
	return m.bytes()
}

// sectionTests are modules that test one section each: the refusals
// name their sentinel, the Limits field for a *LimitError, and a
// fragment of the message.
var sectionTests = []struct {
	name  string
	wasm  []byte
	lim   *Limits // DefaultLimits if nil
	err   error   // nil: Decode accepts it
	limit string  // the LimitError's Limit
	msg   string
}{
	{name: "header only", wasm: header},
	{name: "no magic", wasm: []byte("\x00asn\x01\x00\x00\x00"), err: ErrMalformed, msg: "magic"},
	{name: "version 2", wasm: []byte("\x00asm\x02\x00\x00\x00"), err: ErrMalformed, msg: "version"},
	{name: "short", wasm: []byte("\x00as"), err: ErrMalformed, msg: "magic"},
	{name: "unknown section", wasm: cat(header, sec(14)), err: ErrMalformed, msg: "unknown section id 14"},
	{name: "tag section", wasm: cat(header, sec(13, []byte{0})), err: ErrUnsupported, msg: "tag section"},
	{name: "sections out of order", wasm: cat(header, sec(SecFunction, []byte{0}), sec(SecType, []byte{0})), err: ErrMalformed, msg: "type section at byte 0xb: section out of order"},
	{name: "repeated section", wasm: cat(header, sec(SecType, []byte{0}), sec(SecType, []byte{0})), err: ErrMalformed, msg: "out of order or repeated"},
	{name: "data count after code", wasm: cat(header, sec(SecCode, []byte{0}), sec(SecDataCount, []byte{0})), err: ErrMalformed, msg: "out of order"},
	{name: "data count before code", wasm: cat(header, sec(SecElement, []byte{0}), sec(SecDataCount, []byte{0}), sec(SecCode, []byte{0}), sec(SecData, []byte{0}))},
	{name: "empty data count at the end", wasm: cat(header, sec(SecDataCount))},
	{name: "truncated data count at the end", wasm: cat(header, sec(SecDataCount, []byte{0x80, 0x80}))},
	{name: "empty data count before another section", wasm: cat(header, sec(SecDataCount), sec(SecCode, []byte{0})), err: ErrMalformed, msg: "data count"},
	{name: "section past the end", wasm: cat(header, []byte{1, 5, 0}), err: ErrMalformed, msg: "section of 5 bytes, only 1 left"},
	{name: "section size not a LEB128", wasm: cat(header, []byte{1, 0x80}), err: ErrMalformed, msg: "section size"},
	{name: "bytes left in a section", wasm: cat(header, sec(SecType, []byte{0, 0})), err: ErrMalformed, msg: "1 bytes left at the end of the section"},

	{name: "custom section", wasm: cat(header, sec(SecCustom, name("x"), []byte{1, 2, 3}))},
	{name: "custom section name not UTF-8", wasm: cat(header, sec(SecCustom, []byte{2, 0xc3, 0x28})), err: ErrMalformed, msg: "not valid UTF-8"},
	{name: "custom section name past the section", wasm: cat(header, sec(SecCustom, []byte{5, 'a'}), sec(SecType, []byte{0})), err: ErrMalformed, msg: "custom section name"},
	{name: "name section", wasm: cat(small(0x0b).bytes(), sec(SecCustom, name("name"),
		[]byte{0}, u32(4), name("mod"), // module name
		[]byte{1}, u32(5), []byte{1, 0}, name("fn"), // function names
		[]byte{2}, u32(6), []byte{1, 0, 1, 0}, name("x"), // local names
		[]byte{9}, u32(2), []byte{7, 7}, // skipped
	))},
	{name: "name section of bad UTF-8", wasm: cat(small(0x0b).bytes(), sec(SecCustom, name("name"), []byte{0, 3, 2, 0xc3, 0x28})), err: ErrMalformed, msg: "name section that wazero cannot read"},
	{name: "name section past its end", wasm: cat(header, sec(SecCustom, name("name"), []byte{1, 3, 2, 0, 1}), small(0x0b).bytes()[8:]), err: ErrMalformed, msg: "name section"},
	{name: "second name section", wasm: cat(header, sec(SecCustom, name("name")), sec(SecCustom, name("name"))), err: ErrMalformed, msg: "a second name section"},

	{name: "function type form", wasm: cat(header, sec(SecType, []byte{1, 0x5f, 0, 0})), err: ErrMalformed, msg: "type[0] at byte 0xb: form 0x5f"},
	{name: "rec group", wasm: cat(header, sec(SecType, []byte{1, 0x4e, 1, 0x60, 0, 0})), err: ErrUnsupported, msg: "rec group"},
	{name: "exnref param", wasm: cat(header, sec(SecType, []byte{1, 0x60, 1, 0x69, 0})), err: ErrUnsupported, msg: "exnref"},
	{name: "(ref null func) result", wasm: cat(header, sec(SecType, []byte{1, 0x60, 0, 1, 0x63, 0x70})), err: ErrUnsupported, msg: "(ref ...)"},
	{name: "invalid value type", wasm: cat(header, sec(SecType, []byte{1, 0x60, 1, 0x00, 0})), err: ErrMalformed, msg: "invalid value type 0x0"},
	{name: "too many params", wasm: cat(header, sec(SecType, []byte{1, 0x60, 3, 0x7f, 0x7f, 0x7f, 0})), lim: &Limits{ParamsResults: 2}, err: ErrLimit, limit: "ParamsResults", msg: "type[0]: 3 is over the limit ParamsResults of 2"},
	{name: "too many types", wasm: cat(header, sec(SecType, []byte{2, 0x60, 0, 0, 0x60, 0, 0})), lim: &Limits{Types: 1}, err: ErrLimit, limit: "Types", msg: "type section: 2"},

	{name: "imports", wasm: with(small(0x0b), func(m *mod) {
		m.imports = [][]byte{
			cat(name("a"), name("f"), []byte{0, 0}),
			cat(name("a"), name("t"), []byte{1, 0x6f, 1, 0, 5}),
			cat(name("a"), name("m"), []byte{2, 1, 1, 2}),
			cat(name("a"), name("g"), []byte{3, 0x7e, 1}),
		}
	})},
	{name: "import of a missing type", wasm: with(small(0x0b), func(m *mod) { m.imports = [][]byte{cat(name("a"), name("f"), []byte{0, 1})} }), err: ErrInvalidIndex, msg: "import[0] at byte 0x16: function of type 1, the module has 1 types"},
	{name: "tag import", wasm: with(small(0x0b), func(m *mod) { m.imports = [][]byte{cat(name("a"), name("e"), []byte{4, 0, 0})} }), err: ErrUnsupported, msg: "tag import"},
	{name: "import kind 5", wasm: with(small(0x0b), func(m *mod) { m.imports = [][]byte{cat(name("a"), name("e"), []byte{5, 0})} }), err: ErrMalformed, msg: "import kind 0x5"},
	{name: "two imported memories", wasm: with(small(0x0b), func(m *mod) {
		m.imports = [][]byte{cat(name("a"), name("m"), []byte{2, 0, 1}), cat(name("a"), name("n"), []byte{2, 0, 1})}
	}), err: ErrUnsupported, msg: "multi-memory"},
	{name: "imported memory and a defined one", wasm: with(small(0x0b), func(m *mod) {
		m.imports = [][]byte{cat(name("a"), name("m"), []byte{2, 0, 1})}
		m.memories = [][]byte{{0, 1}}
	}), err: ErrUnsupported, msg: "multi-memory"},
	{name: "table of i32", wasm: with(small(0x0b), func(m *mod) { m.tables = [][]byte{{0x7f, 0, 1}} }), err: ErrUnsupported, msg: "table element type 0x7f, neither funcref nor externref"},
	{name: "table with an initialiser", wasm: with(small(0x0b), func(m *mod) { m.tables = [][]byte{{0x40, 0, 0x70, 0, 1, 0xd0, 0x70, 0x0b}} }), err: ErrUnsupported, msg: "table with an initialiser"},
	{name: "shared memory", wasm: with(small(0x0b), func(m *mod) { m.memories = [][]byte{{3, 1, 1}} }), err: ErrUnsupported, msg: "shared memory"},
	{name: "memory64", wasm: with(small(0x0b), func(m *mod) { m.memories = [][]byte{{4, 1}} }), err: ErrUnsupported, msg: "memory64"},
	{name: "memory over 4 GiB", wasm: with(small(0x0b), func(m *mod) { m.memories = [][]byte{cat([]byte{0}, u32(65537))} }), err: ErrMalformed, msg: "memory minimum of 65537 pages"},
	{name: "memory maximum below minimum", wasm: with(small(0x0b), func(m *mod) { m.memories = [][]byte{{1, 2, 1}} }), err: ErrMalformed, msg: "maximum 1 below its minimum 2"},
	{name: "table maximum below minimum", wasm: with(small(0x0b), func(m *mod) { m.tables = [][]byte{{0x70, 1, 2, 1}} }), err: ErrMalformed, msg: "table maximum 1 below its minimum 2"},
	{name: "table over TableSize", wasm: with(small(0x0b), func(m *mod) { m.tables = [][]byte{cat([]byte{0x70, 0}, u32(10_000_001))} }), err: ErrLimit, limit: "TableSize", msg: "table[0]: 10000001"},
	{name: "shared table", wasm: with(small(0x0b), func(m *mod) { m.tables = [][]byte{{0x70, 3, 1, 1}} }), err: ErrMalformed, msg: "shared table"},
	{name: "too many imported functions", wasm: with(small(0x0b), func(m *mod) {
		m.imports = [][]byte{cat(name("a"), name("f"), []byte{0, 0}), cat(name("a"), name("g"), []byte{0, 0})}
	}), lim: &Limits{Functions: 2}, err: ErrLimit, limit: "Functions", msg: "function section: 3 is over the limit Functions of 2"},

	{name: "function of a missing type", wasm: with(small(0x0b), func(m *mod) { m.funcs = []uint32{1} }), err: ErrInvalidIndex, msg: "function[0] at byte 0x11: function of type 1"},
	{name: "functions without code", wasm: with(small(0x0b), func(m *mod) { m.codes = nil }), err: ErrMalformed, msg: "1 functions declared and no code section"},
	{name: "code for no function", wasm: with(small(0x0b), func(m *mod) { m.codes = append(m.codes, body(nil, 0x0b)) }), err: ErrMalformed, msg: "2 function bodies for 1 functions"},

	{name: "two memories", wasm: with(small(0x0b), func(m *mod) { m.memories = [][]byte{{0, 1}, {0, 1}} }), err: ErrUnsupported, msg: "multi-memory"},

	{name: "global initialisers", wasm: with(small(0x0b), func(m *mod) {
		m.imports = [][]byte{cat(name("a"), name("g"), []byte{3, 0x7f, 0})}
		m.exports = [][]byte{cat(name("f"), []byte{0, 0})}
		m.globals = [][]byte{
			{0x7f, 0, 0x23, 0, 0x0b}, {0x7e, 1, 0x42, 0x7f, 0x0b}, {0x7d, 0, 0x43, 0, 0, 0, 0, 0x0b},
			{0x7c, 0, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b}, {0x70, 0, 0xd2, 0, 0x0b}, {0x6f, 0, 0xd0, 0x6f, 0x0b},
			cat([]byte{0x7b, 0, 0xfd, 0x0c}, make([]byte, 16), []byte{0x0b}),
		}
	})},
	{name: "global of the wrong type", wasm: with(small(0x0b), func(m *mod) { m.globals = [][]byte{{0x7f, 0, 0x42, 0, 0x0b}} }), err: ErrMalformed, msg: "global[0] at byte 0x1a: initialiser: constant expression of type i64, not i32"},
	{name: "global initialised from a defined global", wasm: with(small(0x0b), func(m *mod) { m.globals = [][]byte{{0x7f, 0, 0x41, 0, 0x0b}, {0x7f, 0, 0x23, 0, 0x0b}} }), err: ErrInvalidIndex, msg: "global.get 0, a constant expression may only name the module's 0 imported globals"},
	{name: "global initialised from ref.func of a missing function", wasm: with(small(0x0b), func(m *mod) { m.globals = [][]byte{{0x70, 0, 0xd2, 1, 0x0b}} }), err: ErrInvalidIndex, msg: "ref.func 1, the module has 1 functions"},
	{name: "global initialiser of two instructions", wasm: with(small(0x0b), func(m *mod) { m.globals = [][]byte{{0x7f, 0, 0x41, 0, 0x41, 0, 0x0b}} }), err: ErrMalformed, msg: "more than one instruction"},
	{name: "extended constant expression", wasm: with(small(0x0b), func(m *mod) { m.globals = [][]byte{{0x7f, 0, 0x41, 0, 0x41, 0, 0x6a, 0x0b}} }), err: ErrMalformed, msg: "more than one instruction"},
	{name: "extended constant", wasm: with(small(0x0b), func(m *mod) { m.globals = [][]byte{{0x7f, 0, 0x41, 0, 0x6a, 0x0b}} }), err: ErrUnsupported, msg: "extended constant expressions"},
	{name: "global mutability 2", wasm: with(small(0x0b), func(m *mod) { m.globals = [][]byte{{0x7f, 2, 0x41, 0, 0x0b}} }), err: ErrMalformed, msg: "global mutability 0x2"},
	{name: "global of ref.null of a type", wasm: with(small(0x0b), func(m *mod) { m.globals = [][]byte{{0x70, 0, 0xd0, 0, 0x0b}} }), err: ErrUnsupported, msg: "ref.null of heap type"},
	{name: "too many globals", wasm: with(small(0x0b), func(m *mod) {
		m.imports = [][]byte{cat(name("a"), name("g"), []byte{3, 0x7f, 0})}
		m.globals = [][]byte{{0x7f, 0, 0x41, 0, 0x0b}}
	}), lim: &Limits{Globals: 1}, err: ErrLimit, limit: "Globals", msg: "global section: 2"},

	{name: "export names twice", wasm: with(small(0x0b), func(m *mod) { m.exports = [][]byte{cat(name("f"), []byte{0, 0}), cat(name("f"), []byte{0, 0})} }), err: ErrMalformed, msg: `a second export named "f"`},
	{name: "export of a missing function", wasm: with(small(0x0b), func(m *mod) { m.exports = [][]byte{cat(name("f"), []byte{0, 1})} }), err: ErrInvalidIndex, msg: "function 1 exported, the module has 1"},
	{name: "export of a missing memory", wasm: with(small(0x0b), func(m *mod) { m.exports = [][]byte{cat(name("m"), []byte{2, 0})} }), err: ErrInvalidIndex, msg: "memory 0 exported, the module has 0"},
	{name: "export of a missing table", wasm: with(small(0x0b), func(m *mod) { m.exports = [][]byte{cat(name("t"), []byte{1, 0})} }), err: ErrInvalidIndex, msg: "table 0 exported"},
	{name: "export of a missing global", wasm: with(small(0x0b), func(m *mod) { m.exports = [][]byte{cat(name("g"), []byte{3, 0})} }), err: ErrInvalidIndex, msg: "global 0 exported"},
	{name: "tag export", wasm: with(small(0x0b), func(m *mod) { m.exports = [][]byte{cat(name("e"), []byte{4, 0})} }), err: ErrUnsupported, msg: "tag export"},
	{name: "export name not UTF-8", wasm: with(small(0x0b), func(m *mod) { m.exports = [][]byte{{1, 0xff, 0, 0}} }), err: ErrMalformed, msg: "not valid UTF-8"},

	{name: "start", wasm: with(small(0x0b), func(m *mod) { m.start = ptr(0) })},
	{name: "start of a missing function", wasm: with(small(0x0b), func(m *mod) { m.start = ptr(1) }), err: ErrInvalidIndex, msg: "start function 1, the module has 1"},
	{name: "start with params", wasm: with(small(0x20, 0, 0x1a, 0x0b), func(m *mod) {
		m.types = [][]byte{functype([]ValType{I32}, nil)}
		m.start = ptr(0)
	}), err: ErrMalformed, msg: "start function 0 takes or returns values"},

	{name: "element segments", wasm: with(small(0x0b), func(m *mod) {
		m.tables = [][]byte{{0x70, 0, 4}, {0x6f, 0, 4}}
		m.elements = [][]byte{
			{0, 0x41, 0, 0x0b, 1, 0},       // active, table 0
			{1, 0, 1, 0},                   // passive
			{2, 0, 0x41, 1, 0x0b, 0, 1, 0}, // active, table index
			{3, 0, 1, 0},                   // declarative
			{4, 0x41, 2, 0x0b, 2, 0xd2, 0, 0x0b, 0xd0, 0x70, 0x0b}, // active, expressions
			{5, 0x6f, 1, 0xd0, 0x6f, 0x0b},                         // passive externref
			{6, 1, 0x41, 0, 0x0b, 0x6f, 1, 0xd0, 0x6f, 0x0b},       // active externref, table 1
			{7, 0x70, 1, 0xd2, 0, 0x0b},                            // declarative, expressions
		}
	})},
	{name: "element segment for a missing table", wasm: with(small(0x0b), func(m *mod) { m.elements = [][]byte{{0, 0x41, 0, 0x0b, 1, 0}} }), err: ErrInvalidIndex, msg: "element[0] at byte 0x15: active segment for table 0, the module has 0 tables"},
	{name: "element of a missing function", wasm: with(small(0x0b), func(m *mod) { m.elements = [][]byte{{1, 0, 1, 1}} }), err: ErrInvalidIndex, msg: "function 1, the module has 1"},
	{name: "element segment flags 8", wasm: with(small(0x0b), func(m *mod) { m.elements = [][]byte{{8, 0}} }), err: ErrMalformed, msg: "element segment flags 0x8"},
	{name: "element kind 1", wasm: with(small(0x0b), func(m *mod) { m.elements = [][]byte{{1, 1, 0}} }), err: ErrMalformed, msg: "element kind 0x1"},
	{name: "externref segment for a funcref table", wasm: with(small(0x0b), func(m *mod) {
		m.tables = [][]byte{{0x70, 0, 1}}
		m.elements = [][]byte{{6, 0, 0x41, 0, 0x0b, 0x6f, 0}}
	}), err: ErrMalformed, msg: "segment of externref for a table of funcref"},
	{name: "element expression of the wrong type", wasm: with(small(0x0b), func(m *mod) { m.elements = [][]byte{{5, 0x70, 1, 0xd0, 0x6f, 0x0b}} }), err: ErrMalformed, msg: "constant expression of type externref, not funcref"},
	{name: "element offset of a defined global", wasm: with(small(0x0b), func(m *mod) {
		m.tables = [][]byte{{0x70, 0, 1}}
		m.globals = [][]byte{{0x7f, 0, 0x41, 0, 0x0b}}
		m.elements = [][]byte{{0, 0x23, 0, 0x0b, 0}}
	}), err: ErrInvalidIndex, msg: "offset: global.get 0, a constant expression may only name the module's 0 imported globals"},
	{name: "too many element segments", wasm: with(small(0x0b), func(m *mod) { m.elements = [][]byte{{1, 0, 0}, {1, 0, 0}} }), lim: &Limits{ElementSegments: 1}, err: ErrLimit, limit: "ElementSegments"},

	{name: "locals", wasm: with(small(0x20, 2, 0x1a, 0x0b), func(m *mod) { m.codes = [][]byte{body([]LocalDecl{{2, I32}, {1, V128}}, 0x20, 2, 0x1a, 0x0b)} })},
	{name: "too many locals", wasm: with(small(0x0b), func(m *mod) { m.codes = [][]byte{body([]LocalDecl{{50_000, I32}, {1, I64}}, 0x0b)} }), lim: &Limits{LocalsPerFunction: 50_000}, err: ErrLimit, limit: "LocalsPerFunction", msg: "function[0]: 50001 is over the limit LocalsPerFunction of 50000"},
	{name: "params count towards LocalsPerFunction", wasm: mod{types: [][]byte{functype([]ValType{I32, I64}, nil)}, funcs: []uint32{0},
		codes: [][]byte{body([]LocalDecl{{1, I32}}, 0x0b)}}.bytes(), lim: &Limits{LocalsPerFunction: 2}, err: ErrLimit, limit: "LocalsPerFunction", msg: "function[0]: 3 is over the limit LocalsPerFunction of 2"},
	{name: "params alone over LocalsPerFunction", wasm: mod{types: [][]byte{functype([]ValType{I32, I32, I32}, nil)}, funcs: []uint32{0},
		codes: [][]byte{body(nil, 0x0b)}}.bytes(), lim: &Limits{LocalsPerFunction: 2}, err: ErrLimit, limit: "LocalsPerFunction", msg: "function[0]: 3 is over the limit LocalsPerFunction of 2"},
	{name: "params and locals at LocalsPerFunction", wasm: mod{types: [][]byte{functype([]ValType{I32}, nil)}, funcs: []uint32{0},
		codes: [][]byte{body([]LocalDecl{{1, I32}}, 0x0b)}}.bytes(), lim: &Limits{LocalsPerFunction: 2}},
	{name: "locals past 2^32", wasm: with(small(0x0b), func(m *mod) { m.codes = [][]byte{body([]LocalDecl{{1 << 31, I32}, {1 << 31, I64}}, 0x0b)} }), lim: &Limits{}, err: ErrMalformed, msg: "4294967296 locals"},
	{name: "local of exnref", wasm: with(small(0x0b), func(m *mod) { m.codes = [][]byte{body([]LocalDecl{{1, 0x69}}, 0x0b)} }), err: ErrUnsupported, msg: "exnref"},
	{name: "body over FunctionBodyBytes", wasm: small(0x01, 0x01, 0x01, 0x0b).bytes(), lim: &Limits{FunctionBodyBytes: 4}, err: ErrLimit, limit: "FunctionBodyBytes", msg: "function[0]: 5 is over the limit"},
	{name: "body without end", wasm: small(0x01).bytes(), err: ErrMalformed, msg: "body does not end with end"},
	{name: "body of only locals", wasm: with(small(), func(m *mod) { m.codes = [][]byte{{1, 0}} }), err: ErrMalformed, msg: "body does not end with end"},
	{name: "locals past the body", wasm: with(small(), func(m *mod) { m.codes = [][]byte{{2, 1, 5}} }), err: ErrMalformed, msg: "local declaration count: 1 entries of at least 2 bytes, only 1 bytes left"},

	{name: "data segments", wasm: with(small(0x0b), func(m *mod) {
		m.memories = [][]byte{{0, 1}}
		m.dataCount = ptr(3)
		m.data = [][]byte{cat([]byte{0, 0x41, 0, 0x0b}, name("ab")), cat([]byte{1}, name("c")), cat([]byte{2, 0, 0x41, 8, 0x0b}, name(""))}
	})},
	{name: "data for no memory", wasm: with(small(0x0b), func(m *mod) { m.data = [][]byte{cat([]byte{0, 0x41, 0, 0x0b}, name("ab"))} }), err: ErrInvalidIndex, msg: "active segment for memory 0, the module has 0 memories"},
	{name: "data for memory 1", wasm: with(small(0x0b), func(m *mod) {
		m.memories = [][]byte{{0, 1}}
		m.data = [][]byte{cat([]byte{2, 1, 0x41, 0, 0x0b}, name("ab"))}
	}), err: ErrInvalidIndex, msg: "memory 1"},
	{name: "data segment flags 3", wasm: with(small(0x0b), func(m *mod) { m.data = [][]byte{{3, 0}} }), err: ErrMalformed, msg: "data segment flags 0x3"},
	{name: "data count disagrees", wasm: with(small(0x0b), func(m *mod) { m.dataCount = ptr(2); m.data = [][]byte{cat([]byte{1}, name("c"))} }), err: ErrMalformed, msg: "data count section says 2 segments, the data section has 1"},
	{name: "data count and no data", wasm: with(small(0x0b), func(m *mod) { m.dataCount = ptr(1) }), err: ErrMalformed, msg: "says 1 segments, the data section has 0"},
	{name: "data past the section", wasm: with(small(0x0b), func(m *mod) { m.data = [][]byte{{1, 9, 'a'}} }), err: ErrMalformed, msg: "data: 9 bytes, only 1 left"},
	{name: "memory.init without data count", wasm: with(small(0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 8, 0, 0, 0x0b), func(m *mod) {
		m.memories = [][]byte{{0, 1}}
		m.data = [][]byte{cat([]byte{1}, name("c"))}
	}), err: ErrInvalidIndex, msg: "memory.init without a data count section"},
	{name: "data.drop without data count", wasm: with(small(0xfc, 9, 0, 0x0b), func(m *mod) { m.data = [][]byte{cat([]byte{1}, name("c"))} }), err: ErrInvalidIndex, msg: "data.drop without a data count section"},
	{name: "too many data segments", wasm: with(small(0x0b), func(m *mod) { m.data = [][]byte{{1, 0}, {1, 0}} }), lim: &Limits{DataSegments: 1}, err: ErrLimit, limit: "DataSegments"},
	{name: "too many exports", wasm: with(small(0x0b), func(m *mod) { m.exports = [][]byte{cat(name("f"), []byte{0, 0}), cat(name("g"), []byte{0, 0})} }), lim: &Limits{Exports: 1}, err: ErrLimit, limit: "Exports"},
	{name: "too many imports", wasm: with(small(0x0b), func(m *mod) {
		m.imports = [][]byte{cat(name("a"), name("f"), []byte{0, 0}), cat(name("a"), name("g"), []byte{0, 0})}
	}), lim: &Limits{Imports: 1}, err: ErrLimit, limit: "Imports"},
	{name: "too many mutable globals", wasm: with(small(0x0b), func(m *mod) {
		m.globals = [][]byte{{byte(I32), 1, 0x41, 0, 0x0b}, {byte(I64), 0, 0x42, 0, 0x0b}, {byte(F32), 1, 0x43, 0, 0, 0, 0, 0x0b}}
	}), lim: &Limits{MutableGlobals: 1}, err: ErrLimit, limit: "MutableGlobals", msg: "global[2]: 2 is over the limit MutableGlobals of 1"},
	{name: "too many mutable globals, imported ones counted", wasm: with(small(0x0b), func(m *mod) {
		m.imports = [][]byte{cat(name("a"), name("g"), []byte{3, byte(I32), 1})}
		m.globals = [][]byte{{byte(I32), 1, 0x41, 0, 0x0b}}
	}), lim: &Limits{MutableGlobals: 1}, err: ErrLimit, limit: "MutableGlobals", msg: "global[0]: 2 is over the limit MutableGlobals of 1"},
	{name: "mutable globals at the limit", wasm: with(small(0x0b), func(m *mod) {
		m.imports = [][]byte{cat(name("a"), name("g"), []byte{3, byte(I32), 1})}
		m.globals = [][]byte{{byte(I32), 0, 0x41, 0, 0x0b}, {byte(I32), 1, 0x41, 0, 0x0b}}
	}), lim: &Limits{MutableGlobals: 2}},
	{name: "compile cost under the limit", wasm: small(0x0b).bytes(), lim: &Limits{CompileCost: 3_020}},
	{name: "compile cost", wasm: small(0x0b).bytes(), lim: &Limits{CompileCost: 3_000}, err: ErrLimit, limit: "CompileCost", msg: "module: an estimated compile time of"},
	{name: "compile cost of the data segments", wasm: with(small(0x0b), func(m *mod) {
		m.memories = [][]byte{{0, 1}}
		for range 100 {
			m.data = append(m.data, cat([]byte{1}, name("c")))
		}
	}), lim: &Limits{CompileCost: 3_020}, err: ErrLimit, limit: "CompileCost", msg: "µs is over the limit CompileCost of 3020"},
	{name: "too many tables", wasm: with(small(0x0b), func(m *mod) { m.tables = [][]byte{{0x70, 0, 0}, {0x70, 0, 0}} }), lim: &Limits{Tables: 1}, err: ErrLimit, limit: "Tables"},
}

func TestSections(t *testing.T) {
	for _, tc := range sectionTests {
		t.Run(tc.name, func(t *testing.T) {
			lim := DefaultLimits()
			if tc.lim != nil {
				lim = *tc.lim
			}
			m, err := Decode(tc.wasm, lim)
			werr := wazeroCompile(tc.wasm)
			if tc.err == nil {
				require.NoError(t, err)
				require.NoError(t, werr, "wazero refuses a valid case")
				checkModule(t, m)
				return
			}
			require.ErrorIs(t, err, tc.err)
			assert.Contains(t, err.Error(), tc.msg)
			if tc.limit != "" {
				var le *LimitError
				require.True(t, errors.As(err, &le))
				assert.Equal(t, tc.limit, le.Limit)
				assert.Greater(t, le.Found, le.Max)
			}
			checkRefusal(t, err, werr)
		})
	}
}

// TestModuleContents checks what Decode returns of a module with one of
// everything.
func TestModuleContents(t *testing.T) {
	wasm := rich(2, 0x20, 0, 0x20, 1, 0x42, 0, 0x0b).bytes()
	m, err := Decode(wasm, DefaultLimits())
	require.NoError(t, err)
	assert.Equal(t, []FuncType{{}, {Params: []ValType{I32}, Results: []ValType{I32}}, {Params: []ValType{I32, I32}, Results: []ValType{I32, I64}}}, m.Types)
	assert.Equal(t, []Import{
		{Module: "env", Name: "f", Kind: KindFunc, Func: 0},
		{Module: "env", Name: "g", Kind: KindGlobal, Global: GlobalType{Type: I32}},
	}, m.Imports)
	assert.Equal(t, []uint32{2}, m.Functions)
	assert.Equal(t, []TableType{{Elem: FuncRef, Min: 2}, {Elem: ExternRef}}, m.Tables)
	assert.Equal(t, []MemoryType{{Min: 1}}, m.Memories)
	require.Len(t, m.Globals, 1)
	assert.Equal(t, GlobalType{Type: I32, Mutable: true}, m.Globals[0].Type)
	assert.Equal(t, ConstExpr{Bytes: []byte{0x41, 0, 0x0b}, Op: 0x41}, m.Globals[0].Init)
	assert.Equal(t, []Export{{Name: "fn", Kind: KindFunc, Index: 1}}, m.Exports)
	assert.Equal(t, []Element{{Mode: ModePassive, Type: FuncRef, Count: 1}}, m.Elements)
	assert.True(t, m.HasDataCount)
	assert.Equal(t, uint32(1), m.DataCount)
	require.Len(t, m.Data, 1)
	assert.Equal(t, "abc", string(m.Data[0].Init))
	assert.Equal(t, [4]uint32{1, 2, 1, 2}, [4]uint32{m.ImportedFuncs, m.NumFuncs(), m.ImportedGlobals, m.NumGlobals()})
	assert.Equal(t, [2]uint32{2, 1}, [2]uint32{m.NumTables(), m.NumMemories()})

	require.Len(t, m.Code, 1)
	c := m.Code[0]
	assert.Equal(t, []LocalDecl{{1, I32}}, c.Locals)
	assert.Equal(t, uint32(1), c.NumLocals)
	assert.Equal(t, 3, c.Expr)
	assert.Equal(t, wasm[c.Offset+c.SizeWidth:c.Offset+c.SizeWidth+len(c.Body)], c.Body)
	assert.Equal(t, uint32(4), c.Instructions)
	assert.Equal(t, uint32(3), c.MaxHeight)

	var ids []SectionID
	for _, s := range m.Sections {
		ids = append(ids, s.ID)
		assert.Equal(t, wasm[s.End()-len(s.Payload):s.End()], s.Payload)
	}
	assert.Equal(t, []SectionID{1, 2, 3, 4, 5, 6, 7, 9, 12, 10, 11}, ids)
	assert.Equal(t, len(wasm), m.Sections[len(m.Sections)-1].End())
	assert.Equal(t, SecCode, m.Section(SecCode).ID)
	assert.Nil(t, m.Section(SecStart))

	ft, ok := m.FuncType(1)
	assert.True(t, ok)
	assert.Equal(t, m.Types[2], ft)
	ft, ok = m.FuncType(0)
	assert.True(t, ok)
	assert.Equal(t, m.Types[0], ft)
	_, ok = m.FuncType(2)
	assert.False(t, ok)
}
