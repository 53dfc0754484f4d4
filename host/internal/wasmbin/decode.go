package wasmbin

import (
	"bytes"
	"fmt"
	"math"
)

var header = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// wazero v1.12's own bounds that Limits do not cover (wasm.MaximumFunctionIndex
// for a table's minimum, wasm.MemoryLimitPages for a memory's).
const (
	wazeroMaxTableMin  = 1 << 27
	wazeroMaxMemPages  = 65536
	refPrefixNullable  = 0x63 // (ref null ht), typed function references and GC
	refPrefixNonNull   = 0x64 // (ref ht)
	exnRef             = 0x69 // exception handling
	recGroup           = 0x4e // GC
	tableWithInit      = 0x40 // a table type with an initialiser, function references
	sectionTag         = 13   // exception handling
	externKindTag      = 4    // exception handling
	opExtConstI32Add   = 0x6a // extended constant expressions
	opExtConstI64Mul   = 0x7e
	maxFunctionsWazero = 1 << 27
)

// decoder holds what Decode has read so far.
type decoder struct {
	m      *Module
	lim    Limits
	prev   SectionID // the last non-custom section, for the order check
	seen   bool      // a "name" custom section was read
	r      Reader    // reused for every function body
	locals []LocalDecl
	total  uint64 // instructions of the module so far

	localsTotal uint64  // declared locals of the module so far
	mutable     uint32  // mutable globals, imported and defined
	fixedCost   float64 // Module.fixedCost, once the code section starts
	codeCost    float64 // the functions' estimates so far, summed in order
}

// Decode reads wasm strictly, checks every index it uses and its
// structure against limits, and returns the module. Its errors wrap
// ErrMalformed, ErrUnsupported, ErrInvalidIndex or ErrLimit and say where
// (section, entry, function and byte offset).
func Decode(wasm []byte, limits Limits) (*Module, error) {
	d := &decoder{m: &Module{Bytes: wasm}, lim: limits}
	if err := d.module(); err != nil {
		return nil, err
	}
	return d.m, nil
}

func (d *decoder) module() error {
	b := d.m.Bytes
	if len(b) < 8 || !bytes.Equal(b[:4], header[:4]) {
		return fmt.Errorf("no \\0asm magic number: %w", ErrMalformed)
	}
	if !bytes.Equal(b[4:8], header[4:]) {
		return fmt.Errorf("version %x, not 1: %w", b[4:8], ErrMalformed)
	}
	p := 8
	for p < len(b) {
		start := p
		id := SectionID(b[p])
		size, n := readU32(b[p+1:])
		c := &cursor{b: b, p: p, end: len(b), what: sectionName(id), idx: -1}
		if n == 0 {
			c.fail(ErrMalformed, "section size is not an unsigned 32-bit LEB128")
			return c.err
		}
		p += 1 + n
		if uint64(size) > uint64(len(b)-p) {
			c.fail(ErrMalformed, "section of %d bytes, only %d left in the module", size, len(b)-p)
			return c.err
		}
		if err := d.order(c, id); err != nil {
			return err
		}
		s := Section{ID: id, Offset: start, SizeWidth: n, Payload: b[p : p+int(size) : p+int(size)]}
		c.p, c.end = p, p+int(size)
		p += int(size)
		d.section(c, &s, p == len(b))
		if c.err == nil && c.p != c.end {
			c.fail(ErrMalformed, "%d bytes left at the end of the section", c.end-c.p)
		}
		if c.err != nil {
			return c.err
		}
		d.m.Sections = append(d.m.Sections, s)
	}
	return d.finish()
}

// order checks the section order as wazero's checkSectionOrder: custom
// sections anywhere, the data count section between the element and code
// sections, every other section once and in increasing order.
func (d *decoder) order(c *cursor, id SectionID) error {
	if id == SecCustom {
		return nil
	}
	if id == sectionTag {
		c.fail(ErrUnsupported, "tag section (exception handling)")
		return c.err
	}
	ok := false
	switch {
	case id > SecDataCount:
		c.fail(ErrMalformed, "unknown section id %d", id)
		return c.err
	case id == SecDataCount:
		ok = d.prev <= SecElement
	case d.prev == SecDataCount:
		ok = id >= SecCode
	default:
		ok = id > d.prev
	}
	if !ok {
		c.fail(ErrMalformed, "section out of order or repeated (after the %s section)", sectionName(d.prev))
		return c.err
	}
	d.prev = id
	return nil
}

func sectionName(id SectionID) string {
	switch id {
	case SecCustom:
		return "custom"
	case SecType:
		return "type"
	case SecImport:
		return "import"
	case SecFunction:
		return "function"
	case SecTable:
		return "table"
	case SecMemory:
		return "memory"
	case SecGlobal:
		return "global"
	case SecExport:
		return "export"
	case SecStart:
		return "start"
	case SecElement:
		return "element"
	case SecCode:
		return "code"
	case SecData:
		return "data"
	case SecDataCount:
		return "data count"
	}
	return fmt.Sprintf("unknown(%d)", id)
}

func (d *decoder) section(c *cursor, s *Section, last bool) {
	switch s.ID {
	case SecCustom:
		d.custom(c, s, last)
	case SecType:
		d.types(c)
	case SecImport:
		d.imports(c)
	case SecFunction:
		d.functions(c)
	case SecTable:
		d.tables(c)
	case SecMemory:
		d.memories(c)
	case SecGlobal:
		d.globals(c)
	case SecExport:
		d.exports(c)
	case SecStart:
		d.start(c)
	case SecElement:
		d.elements(c)
	case SecDataCount:
		d.m.HasDataCount = true
		if last && truncatedU32(c.b[c.p:c.end]) {
			// wazero takes the end of the module in the middle of the
			// count (or before it) for a count of 0.
			c.p = c.end
			return
		}
		d.m.DataCount = c.u32("data count")
	case SecCode:
		d.code(c)
	case SecData:
		d.data(c)
	}
}

// truncatedU32 reports whether b is the start of an unsigned LEB128 of
// fewer than 5 bytes that ends with b.
func truncatedU32(b []byte) bool {
	if len(b) >= 5 {
		return false
	}
	for _, c := range b {
		if c < 0x80 {
			return false
		}
	}
	return true
}

// custom reads a custom section's name, and checks a "name" section as
// wazero decodes it: wazero refuses a module whose name section it
// cannot read, and allocates what that section's counts declare.
func (d *decoder) custom(c *cursor, s *Section, last bool) {
	s.Name = c.name("custom section name")
	if c.err != nil || s.Name != "name" {
		c.p = c.end
		return
	}
	if d.seen {
		c.fail(ErrMalformed, "a second name section")
		return
	}
	d.seen = true
	if p, ok := checkNames(c.b[c.p:c.end], last); !ok {
		c.p += p
		c.fail(ErrMalformed, "name section that wazero cannot read")
		return
	}
	c.p = c.end
}

// valType reads a value type of CoreFeaturesV2.
func valType(c *cursor, what string) ValType {
	b := c.byte(what)
	if c.err != nil {
		return 0
	}
	switch ValType(b) {
	case I32, I64, F32, F64, V128, FuncRef, ExternRef:
		return ValType(b)
	}
	c.p--
	switch b {
	case exnRef:
		c.fail(ErrUnsupported, "%s: exnref (exception handling)", what)
	case refPrefixNullable, refPrefixNonNull:
		c.fail(ErrUnsupported, "%s: (ref ...) type (typed function references, GC)", what)
	default:
		c.fail(ErrMalformed, "%s: invalid value type %#x", what, b)
	}
	return 0
}

func (d *decoder) types(c *cursor) {
	c.what = "type"
	n := c.count("type count", 3, "Types", d.lim.Types, 0)
	if c.err != nil {
		return
	}
	// One backing array for every type's params and results: each takes
	// a byte of the section, so it is no larger than the section.
	all := make([]ValType, 0, c.left())
	d.m.Types = make([]FuncType, n)
	for i := range d.m.Types {
		c.idx = i
		form := c.byte("form")
		if c.err != nil {
			return
		}
		if form != 0x60 {
			c.p--
			if form == recGroup {
				c.fail(ErrUnsupported, "rec group (GC)")
			} else {
				c.fail(ErrMalformed, "form %#x, not a function type (0x60)", form)
			}
			return
		}
		t := &d.m.Types[i]
		for k := range 2 {
			what, kind := "param count", "params"
			if k == 1 {
				what, kind = "result count", "results"
			}
			cnt := c.count(what, 1, "ParamsResults", d.lim.ParamsResults, 0)
			start := len(all)
			for range cnt {
				all = append(all, valType(c, kind))
			}
			if c.err != nil {
				return
			}
			if cnt == 0 {
				continue
			}
			if k == 0 {
				t.Params = all[start:len(all):len(all)]
			} else {
				t.Results = all[start:len(all):len(all)]
			}
		}
	}
}

// limits reads a table's or memory's limits flag, minimum and maximum.
func limitsFlag(c *cursor, what string) (flag byte) {
	flag = c.byte(what + " limits flag")
	if c.err != nil {
		return 0
	}
	if flag > 1 {
		c.p--
	}
	return flag
}

func tableType(c *cursor, d *decoder) TableType {
	var t TableType
	b := c.byte("table element type")
	if c.err != nil {
		return t
	}
	switch ValType(b) {
	case FuncRef, ExternRef:
		t.Elem = ValType(b)
	default:
		c.p--
		switch b {
		case tableWithInit:
			c.fail(ErrUnsupported, "table with an initialiser (typed function references)")
		case refPrefixNullable, refPrefixNonNull:
			c.fail(ErrUnsupported, "table of a (ref ...) type (typed function references, GC)")
		default:
			// wazero v1.12 takes any byte here for a table's type.
			c.fail(ErrUnsupported, "table element type %#x, neither funcref nor externref", b)
		}
		return t
	}
	flag := limitsFlag(c, "table")
	switch flag {
	case 0, 1:
	case 2, 3:
		c.fail(ErrMalformed, "shared table")
	default:
		c.fail(ErrMalformed, "table limits flag %#x", flag)
	}
	t.Min = c.u32("table minimum")
	if flag == 1 {
		t.HasMax = true
		t.Max = c.u32("table maximum")
	}
	if c.err != nil {
		return t
	}
	if d.lim.TableSize != 0 && t.Min > d.lim.TableSize {
		c.failLimit("TableSize", uint64(t.Min), uint64(d.lim.TableSize))
	} else if t.Min > wazeroMaxTableMin {
		c.fail(ErrMalformed, "table minimum %d over wazero's %d", t.Min, wazeroMaxTableMin)
	} else if t.HasMax && t.Max < t.Min {
		c.fail(ErrMalformed, "table maximum %d below its minimum %d", t.Max, t.Min)
	}
	return t
}

func memoryType(c *cursor) MemoryType {
	var m MemoryType
	flag := limitsFlag(c, "memory")
	switch flag {
	case 0, 1:
	case 2, 3:
		c.fail(ErrUnsupported, "shared memory (threads)")
	case 4, 5, 6, 7:
		c.fail(ErrUnsupported, "64-bit memory (memory64)")
	default:
		c.fail(ErrMalformed, "memory limits flag %#x", flag)
	}
	m.Min = c.u32("memory minimum")
	if flag == 1 {
		m.HasMax = true
		m.Max = c.u32("memory maximum")
	}
	if c.err != nil {
		return m
	}
	switch {
	case m.Min > wazeroMaxMemPages:
		c.fail(ErrMalformed, "memory minimum of %d pages over %d", m.Min, wazeroMaxMemPages)
	case m.HasMax && m.Max > wazeroMaxMemPages:
		c.fail(ErrMalformed, "memory maximum of %d pages over %d", m.Max, wazeroMaxMemPages)
	case m.HasMax && m.Max < m.Min:
		c.fail(ErrMalformed, "memory maximum %d below its minimum %d", m.Max, m.Min)
	}
	return m
}

func globalType(c *cursor) GlobalType {
	var g GlobalType
	g.Type = valType(c, "global type")
	switch mut := c.byte("global mutability"); mut {
	case 0:
	case 1:
		g.Mutable = true
	default:
		c.p--
		c.fail(ErrMalformed, "global mutability %#x", mut)
	}
	return g
}

func (d *decoder) imports(c *cursor) {
	c.what = "import"
	m := d.m
	n := c.count("import count", 4, "Imports", d.lim.Imports, 0)
	if c.err != nil {
		return
	}
	m.Imports = make([]Import, n)
	for i := range m.Imports {
		c.idx = i
		imp := &m.Imports[i]
		imp.Module = c.name("module name")
		imp.Name = c.name("name")
		imp.Kind = ExternKind(c.byte("kind"))
		if c.err != nil {
			return
		}
		switch imp.Kind {
		case KindFunc:
			at := c.p
			imp.Func = c.u32("type index")
			if c.err == nil && imp.Func >= uint32(len(m.Types)) {
				c.p = at
				c.fail(ErrInvalidIndex, "function of type %d, the module has %d types", imp.Func, len(m.Types))
			}
			m.ImportedFuncs++
			if d.lim.Functions != 0 && m.ImportedFuncs > d.lim.Functions {
				c.failLimit("Functions", uint64(m.ImportedFuncs), uint64(d.lim.Functions))
			}
			m.funcTypes = append(m.funcTypes, imp.Func)
		case KindTable:
			imp.Table = tableType(c, d)
			m.ImportedTables++
			if d.lim.Tables != 0 && m.ImportedTables > d.lim.Tables {
				c.failLimit("Tables", uint64(m.ImportedTables), uint64(d.lim.Tables))
			}
			m.tables = append(m.tables, imp.Table.Elem)
		case KindMemory:
			imp.Memory = memoryType(c)
			m.ImportedMemories++
			if m.ImportedMemories > 1 {
				c.fail(ErrUnsupported, "a second memory (multi-memory)")
			}
		case KindGlobal:
			imp.Global = globalType(c)
			m.ImportedGlobals++
			if d.lim.Globals != 0 && m.ImportedGlobals > d.lim.Globals {
				c.failLimit("Globals", uint64(m.ImportedGlobals), uint64(d.lim.Globals))
			}
			d.mutableGlobal(c, imp.Global)
			m.globals = append(m.globals, imp.Global)
		case externKindTag:
			c.p--
			c.fail(ErrUnsupported, "tag import (exception handling)")
		default:
			c.p--
			c.fail(ErrMalformed, "import kind %#x", byte(imp.Kind))
		}
		if c.err != nil {
			return
		}
	}
}

// mutableGlobal counts global type g, under MutableGlobals: wazero
// reloads every mutable global after each call.
func (d *decoder) mutableGlobal(c *cursor, g GlobalType) {
	if !g.Mutable || c.err != nil {
		return
	}
	d.mutable++
	if d.lim.MutableGlobals != 0 && d.mutable > d.lim.MutableGlobals {
		c.failLimit("MutableGlobals", uint64(d.mutable), uint64(d.lim.MutableGlobals))
	}
}

func (d *decoder) functions(c *cursor) {
	c.what = "function"
	m := d.m
	n := c.count("function count", 1, "Functions", d.lim.Functions, m.ImportedFuncs)
	if c.err != nil {
		return
	}
	m.Functions = make([]uint32, n)
	for i := range m.Functions {
		c.idx = i
		at := c.p
		t := c.u32("type index")
		if c.err != nil {
			return
		}
		if t >= uint32(len(m.Types)) {
			c.p = at
			c.fail(ErrInvalidIndex, "function of type %d, the module has %d types", t, len(m.Types))
			return
		}
		m.Functions[i] = t
	}
	m.funcTypes = append(m.funcTypes, m.Functions...)
}

func (d *decoder) tables(c *cursor) {
	c.what = "table"
	m := d.m
	n := c.count("table count", 3, "Tables", d.lim.Tables, m.ImportedTables)
	if c.err != nil {
		return
	}
	m.Tables = make([]TableType, n)
	for i := range m.Tables {
		c.idx = i
		m.Tables[i] = tableType(c, d)
		if c.err != nil {
			return
		}
		m.tables = append(m.tables, m.Tables[i].Elem)
	}
}

func (d *decoder) memories(c *cursor) {
	c.what = "memory"
	m := d.m
	n := c.count("memory count", 2, "", 0, 0)
	if c.err != nil {
		return
	}
	if uint64(n)+uint64(m.ImportedMemories) > 1 {
		c.fail(ErrUnsupported, "%d memories, more than one (multi-memory)", uint64(n)+uint64(m.ImportedMemories))
		return
	}
	m.Memories = make([]MemoryType, n)
	for i := range m.Memories {
		c.idx = i
		m.Memories[i] = memoryType(c)
	}
}

func (d *decoder) globals(c *cursor) {
	c.what = "global"
	m := d.m
	n := c.count("global count", 4, "Globals", d.lim.Globals, m.ImportedGlobals)
	if c.err != nil {
		return
	}
	m.Globals = make([]Global, n)
	for i := range m.Globals {
		c.idx = i
		g := &m.Globals[i]
		g.Type = globalType(c)
		d.mutableGlobal(c, g.Type)
		g.Init = d.constExpr(c, g.Type.Type, "initialiser")
		if c.err != nil {
			return
		}
		m.globals = append(m.globals, g.Type)
	}
}

func (d *decoder) exports(c *cursor) {
	c.what = "export"
	m := d.m
	n := c.count("export count", 3, "Exports", d.lim.Exports, 0)
	if c.err != nil {
		return
	}
	m.Exports = make([]Export, n)
	names := make(map[string]struct{}, n)
	for i := range m.Exports {
		c.idx = i
		e := &m.Exports[i]
		e.Name = c.name("name")
		if c.err != nil {
			return
		}
		if _, dup := names[e.Name]; dup {
			c.fail(ErrMalformed, "a second export named %q", e.Name)
			return
		}
		names[e.Name] = struct{}{}
		e.Kind = ExternKind(c.byte("kind"))
		at := c.p
		e.Index = c.u32("index")
		if c.err != nil {
			return
		}
		var space uint32
		kind := ""
		switch e.Kind {
		case KindFunc:
			space, kind = m.NumFuncs(), "function"
		case KindTable:
			space, kind = m.NumTables(), "table"
		case KindMemory:
			space, kind = m.NumMemories(), "memory"
		case KindGlobal:
			space, kind = m.NumGlobals(), "global"
		case externKindTag:
			c.p = at - 1
			c.fail(ErrUnsupported, "tag export (exception handling)")
			return
		default:
			c.p = at - 1
			c.fail(ErrMalformed, "export kind %#x", byte(e.Kind))
			return
		}
		if e.Index >= space {
			c.p = at
			c.fail(ErrInvalidIndex, "%s %d exported, the module has %d", kind, e.Index, space)
			return
		}
		if e.Kind == KindFunc {
			m.declare(e.Index)
		}
	}
}

func (d *decoder) start(c *cursor) {
	c.what = "start"
	m := d.m
	at := c.p
	m.Start = c.u32("start function")
	if c.err != nil {
		return
	}
	m.HasStart = true
	if m.Start >= m.NumFuncs() {
		c.p = at
		c.fail(ErrInvalidIndex, "start function %d, the module has %d functions", m.Start, m.NumFuncs())
		return
	}
	if t := m.Types[m.funcTypes[m.Start]]; len(t.Params) != 0 || len(t.Results) != 0 {
		c.p = at
		c.fail(ErrMalformed, "start function %d takes or returns values", m.Start)
	}
}

// declare records that ref.func may name function fn (wazero's
// declaredFunctionIndexes: exported, or named in a global's initialiser
// or an element segment).
func (m *Module) declare(fn uint32) {
	if m.declared == nil {
		m.declared = make([]uint64, (m.NumFuncs()+63)/64)
	}
	if int(fn/64) < len(m.declared) {
		m.declared[fn/64] |= 1 << (fn % 64)
	}
}

func (m *Module) isDeclared(fn uint32) bool {
	return int(fn/64) < len(m.declared) && m.declared[fn/64]&(1<<(fn%64)) != 0
}

// refType reads an element segment's reference type.
func refType(c *cursor) ValType {
	b := c.byte("element type")
	if c.err != nil {
		return 0
	}
	switch ValType(b) {
	case FuncRef, ExternRef:
		return ValType(b)
	}
	c.p--
	if b == refPrefixNullable || b == refPrefixNonNull {
		c.fail(ErrUnsupported, "element type (ref ...) (typed function references, GC)")
	} else {
		c.fail(ErrMalformed, "element type %#x", b)
	}
	return 0
}

func (d *decoder) elements(c *cursor) {
	c.what = "element"
	m := d.m
	n := c.count("element segment count", 2, "ElementSegments", d.lim.ElementSegments, 0)
	if c.err != nil {
		return
	}
	m.Elements = make([]Element, n)
	for i := range m.Elements {
		c.idx = i
		e := &m.Elements[i]
		at := c.p
		flags := c.u32("element segment flags")
		if c.err != nil {
			return
		}
		if flags > 7 {
			c.p = at
			c.fail(ErrMalformed, "element segment flags %#x", flags)
			return
		}
		// Bit 0: passive or declarative; bit 1: with a table index (active)
		// or declarative (otherwise); bit 2: expressions, not indices.
		switch {
		case flags&1 == 0:
			e.Mode = ModeActive
		case flags&2 == 0:
			e.Mode = ModePassive
		default:
			e.Mode = ModeDeclarative
		}
		e.Type = FuncRef
		if e.Mode == ModeActive {
			if flags&2 != 0 {
				at = c.p
				e.Table = c.u32("table index")
			}
			if c.err == nil && e.Table >= m.NumTables() {
				c.p = at
				c.fail(ErrInvalidIndex, "active segment for table %d, the module has %d tables", e.Table, m.NumTables())
				return
			}
			e.Offset = d.constExpr(c, I32, "offset")
		}
		exprs := flags&4 != 0
		if flags&3 != 0 { // an element kind or type follows
			if exprs {
				e.Type = refType(c)
			} else if k := c.byte("element kind"); c.err == nil && k != 0 {
				c.p--
				c.fail(ErrMalformed, "element kind %#x, not 0 (funcref)", k)
			}
		}
		if c.err != nil {
			return
		}
		if e.Mode == ModeActive && m.tables[e.Table] != e.Type {
			c.fail(ErrMalformed, "segment of %s for a table of %s", typeName(e.Type), typeName(m.tables[e.Table]))
			return
		}
		minSize := 1
		if exprs {
			minSize = 2
		}
		e.Count = c.count("element count", minSize, "", 0, 0)
		for range e.Count {
			if exprs {
				d.constExpr(c, e.Type, "element")
				continue
			}
			at := c.p
			fn := c.u32("function index")
			if c.err == nil && fn >= m.NumFuncs() {
				c.p = at
				c.fail(ErrInvalidIndex, "function %d, the module has %d", fn, m.NumFuncs())
			}
			if c.err != nil {
				return
			}
			m.declare(fn)
		}
		if c.err != nil {
			return
		}
	}
}

func typeName(t ValType) string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	case F32:
		return "f32"
	case F64:
		return "f64"
	case V128:
		return "v128"
	case FuncRef:
		return "funcref"
	case ExternRef:
		return "externref"
	}
	return fmt.Sprintf("type %#x", byte(t))
}

// constExpr reads a constant expression of type want: in
// CoreFeaturesV2 one instruction and end. A global.get may only name an
// imported global (wazero enables the relaxation of Wasm 3.0 only with
// extended constant expressions).
func (d *decoder) constExpr(c *cursor, want ValType, what string) ConstExpr {
	m := d.m
	var e ConstExpr
	start := c.p
	e.Op = c.byte("constant expression opcode")
	if c.err != nil {
		return e
	}
	var got ValType
	switch e.Op {
	case 0x41:
		e.Value, got = uint64(uint32(c.s32("i32.const"))), I32
	case 0x42:
		e.Value, got = uint64(c.s64("i64.const")), I64
	case 0x43:
		b := c.bytes(4, "f32.const")
		if c.err == nil {
			e.Value = uint64(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
		}
		got = F32
	case 0x44:
		b := c.bytes(8, "f64.const")
		if c.err == nil {
			for k := 7; k >= 0; k-- {
				e.Value = e.Value<<8 | uint64(b[k])
			}
		}
		got = F64
	case 0x23:
		at := c.p
		g := c.u32("global.get")
		if c.err != nil {
			return e
		}
		if g >= m.ImportedGlobals {
			c.p = at
			c.fail(ErrInvalidIndex, "%s: global.get %d, a constant expression may only name the module's %d imported globals", what, g, m.ImportedGlobals)
			return e
		}
		e.Value, got = uint64(g), m.globals[g].Type
	case 0xd0:
		ht := c.byte("ref.null heap type")
		switch ValType(ht) {
		case FuncRef, ExternRef:
			got = ValType(ht)
		default:
			c.p--
			c.fail(ErrUnsupported, "%s: ref.null of heap type %#x (typed function references, exception handling)", what, ht)
		}
	case 0xd2:
		at := c.p
		fn := c.u32("ref.func")
		if c.err != nil {
			return e
		}
		if fn >= m.NumFuncs() {
			c.p = at
			c.fail(ErrInvalidIndex, "%s: ref.func %d, the module has %d functions", what, fn, m.NumFuncs())
			return e
		}
		m.declare(fn)
		e.Value, got = uint64(fn), FuncRef
	case 0xfd:
		if sub := c.byte("vector opcode"); c.err == nil && sub != 0x0c {
			c.p--
			c.fail(ErrMalformed, "%s: vector opcode %#x in a constant expression", what, sub)
		}
		c.bytes(16, "v128.const")
		got = V128
	case opExtConstI32Add, 0x6b, 0x6c, 0x7c, 0x7d, opExtConstI64Mul:
		c.p--
		c.fail(ErrUnsupported, "%s: opcode %#x in a constant expression (extended constant expressions)", what, e.Op)
	default:
		c.p--
		c.fail(ErrMalformed, "%s: opcode %#x in a constant expression", what, e.Op)
	}
	if c.err != nil {
		return e
	}
	if end := c.byte("constant expression end"); c.err == nil && end != 0x0b {
		c.p--
		if end >= opExtConstI32Add && end <= 0x6c || end >= 0x7c && end <= opExtConstI64Mul {
			c.fail(ErrUnsupported, "%s: opcode %#x in a constant expression (extended constant expressions)", what, end)
		} else {
			c.fail(ErrMalformed, "%s: constant expression of more than one instruction", what)
		}
	}
	if c.err == nil && got != want {
		c.fail(ErrMalformed, "%s: constant expression of type %s, not %s", what, typeName(got), typeName(want))
	}
	e.Bytes = c.b[start:c.p:c.p]
	return e
}

func (d *decoder) code(c *cursor) {
	c.what = "code"
	m := d.m
	n := c.count("function body count", 2, "", 0, 0)
	if c.err != nil {
		return
	}
	if n != uint32(len(m.Functions)) {
		c.fail(ErrMalformed, "%d function bodies for %d functions", n, len(m.Functions))
		return
	}
	m.Code = make([]Code, n)
	spans := make([][2]int, n)
	d.fixedCost = m.fixedCost()
	sectionEnd := c.end
	d.locals = d.locals[:0]
	for i := range m.Code {
		c.what, c.idx = "function", int(m.ImportedFuncs)+i
		code := &m.Code[i]
		code.Offset = c.p
		size := c.u32("body size")
		if c.err != nil {
			return
		}
		code.SizeWidth = c.p - code.Offset
		if d.lim.FunctionBodyBytes != 0 && size > d.lim.FunctionBodyBytes {
			c.failLimit("FunctionBodyBytes", uint64(size), uint64(d.lim.FunctionBodyBytes))
			return
		}
		code.Body = c.bytes(size, "body")
		if c.err != nil {
			return
		}
		bodyEnd := c.p
		c.p, c.end = bodyEnd-int(size), bodyEnd
		nd := c.count("local declaration count", 2, "", 0, 0)
		spans[i][0] = len(d.locals)
		// LocalsPerFunction counts the params too: wazero makes a
		// variable of each.
		params := uint64(len(m.Types[m.Functions[i]].Params))
		if d.lim.LocalsPerFunction != 0 && params > uint64(d.lim.LocalsPerFunction) {
			c.failLimit("LocalsPerFunction", params, uint64(d.lim.LocalsPerFunction))
			return
		}
		var sum uint64
		for range nd {
			at := c.p
			cnt := c.u32("local count")
			t := valType(c, "local type")
			if c.err != nil {
				return
			}
			sum += uint64(cnt)
			if d.lim.LocalsPerFunction != 0 && params+sum > uint64(d.lim.LocalsPerFunction) {
				c.p = at
				c.failLimit("LocalsPerFunction", params+sum, uint64(d.lim.LocalsPerFunction))
				return
			}
			if sum > math.MaxUint32 {
				c.p = at
				c.fail(ErrMalformed, "%d locals, more than 2^32-1", sum)
				return
			}
			if d.lim.Locals != 0 && d.localsTotal+sum > d.lim.Locals {
				c.p = at
				c.what, c.idx = "code", -1
				c.failLimit("Locals", d.localsTotal+sum, d.lim.Locals)
				return
			}
			d.locals = append(d.locals, LocalDecl{Count: cnt, Type: t})
		}
		if c.err != nil {
			return
		}
		spans[i][1] = len(d.locals)
		code.NumLocals = uint32(sum)
		d.localsTotal += sum
		code.Expr = c.p - (bodyEnd - int(size))
		if code.Expr >= len(code.Body) || code.Body[len(code.Body)-1] != 0x0b {
			c.fail(ErrMalformed, "body does not end with end (0x0b)")
			return
		}
		if err := d.body(i); err != nil {
			c.err = err
			return
		}
		c.p, c.end = bodyEnd, sectionEnd
	}
	// The declarations of every function share one array, sliced once it
	// no longer grows.
	if len(d.locals) > 0 {
		all := make([]LocalDecl, len(d.locals))
		copy(all, d.locals)
		for i := range m.Code {
			if s := spans[i]; s[1] > s[0] {
				m.Code[i].Locals = all[s[0]:s[1]:s[1]]
			}
		}
	}
}

// body decodes defined function i's instructions with the same Reader
// Module.Instructions returns, under the decoder's limits.
func (d *decoder) body(i int) error {
	r := &d.r
	r.reset(d.m, i, d.lim)
	r.stats = true
	code := &d.m.Code[i]
	for r.Next() {
	}
	if r.err != nil {
		return r.err
	}
	code.Instructions = r.count
	code.Loops = r.loops
	code.StateOps = r.stateOps
	code.MaxDepth = r.maxDepth
	code.MaxHeight = uint32(min(r.maxHeight, math.MaxUint32))
	code.Calls, code.Control = r.calls, r.control
	code.Blocks, code.Merges, code.BrTargets = r.blocks, r.merges, r.brTargets
	code.DepthSum, code.PredSquares = r.depthSum, r.predSquares
	code.Cost = d.m.codeCost(i, code, d.mutable)
	d.total += uint64(r.count)
	if d.lim.Instructions != 0 && d.total > d.lim.Instructions {
		return &LimitError{Limit: "Instructions", Where: "module", Found: d.total, Max: d.lim.Instructions}
	}
	// Refuse as soon as the functions so far, with the sections before
	// them, cost too much: CompileCost only adds to it.
	d.codeCost += code.Cost
	if c := ceilCost(d.codeCost + d.fixedCost); d.lim.CompileCost != 0 && c > d.lim.CompileCost {
		return &LimitError{Limit: "CompileCost", Where: "module", Found: c, Max: d.lim.CompileCost}
	}
	return nil
}

func (d *decoder) data(c *cursor) {
	c.what = "data"
	m := d.m
	n := c.count("data segment count", 2, "DataSegments", d.lim.DataSegments, 0)
	if c.err != nil {
		return
	}
	m.Data = make([]Data, n)
	for i := range m.Data {
		c.idx = i
		s := &m.Data[i]
		at := c.p
		flags := c.u32("data segment flags")
		if c.err != nil {
			return
		}
		switch flags {
		case 0, 2:
			s.Mode = ModeActive
			if flags == 2 {
				at = c.p
				s.Memory = c.u32("memory index")
			}
			if c.err == nil && (s.Memory != 0 || m.NumMemories() == 0) {
				c.p = at
				c.fail(ErrInvalidIndex, "active segment for memory %d, the module has %d memories", s.Memory, m.NumMemories())
				return
			}
			s.Offset = d.constExpr(c, I32, "offset")
		case 1:
			s.Mode = ModePassive
		default:
			c.p = at
			c.fail(ErrMalformed, "data segment flags %#x", flags)
			return
		}
		s.Init = c.bytes(c.u32("data size"), "data")
		if c.err != nil {
			return
		}
	}
}

// finish checks what only the whole module tells.
func (d *decoder) finish() error {
	m := d.m
	if len(m.Code) != len(m.Functions) {
		return fmt.Errorf("%d functions declared and no code section: %w", len(m.Functions), ErrMalformed)
	}
	if m.HasDataCount && m.DataCount != uint32(len(m.Data)) {
		return fmt.Errorf("data count section says %d segments, the data section has %d: %w", m.DataCount, len(m.Data), ErrMalformed)
	}
	if c := m.CompileCost(); d.lim.CompileCost != 0 && c > d.lim.CompileCost {
		return &LimitError{Limit: "CompileCost", Where: "module", Found: c, Max: d.lim.CompileCost}
	}
	return nil
}
