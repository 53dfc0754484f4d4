// Package wasmbin is wasmreg's one strict reader (and the few writing
// helpers) of the WebAssembly binary format. The host's structural check,
// the interrupt rewrite and the snapshot rewrite all read modules through
// it, so that they never disagree on what a module contains.
//
// It reads exactly what wazero v1.12 accepts with api.CoreFeaturesV2 (the
// features wasmreg's runtime enables), the way wazero reads it: the same
// LEB128 rules (leb128.DecodeUint32, DecodeInt32, DecodeInt33AsInt64,
// DecodeInt64), the same block-type rules, the same immediates for every
// instruction. Anything else is refused: a feature wazero does not enable
// for wasmreg (threads, tail calls, exceptions, multi-memory, memory64, GC,
// extended constant expressions) or an encoding on which this reader and
// wazero could part ways wraps ErrUnsupported; bytes that are not a module
// wrap ErrMalformed. A reader that accepted something wazero reads
// differently would let a rewrite miss a loop.
//
// Decode also checks what a rewrite relies on and wazero checks only after
// it: every index a module uses (function, type, table, memory, global,
// local, label, element, data) refers to something the module as written
// defines or imports (ErrInvalidIndex). The rewrites append globals,
// tables, types and functions after the module's own; a module that names
// one of those indices before the rewrite is refused here, before any
// rewrite runs.
//
// And it bounds the module's structure (Limits) before wazero allocates or
// compiles anything: wazero's decoder allocates per declared local, and
// its compiler's time grows faster than linearly with some shapes. In the
// same pass it counts what an estimate of that time needs, and bounds the
// estimate (Module.CompileCost, cost.go).
//
// Everything in this package is safe for concurrent use: a Module is
// immutable once Decode returns it.
package wasmbin

import (
	"errors"
	"fmt"
)

// Errors that Decode wraps. Check them with errors.Is.
var (
	// ErrMalformed means the bytes are not a well-formed module, or not
	// a valid one in a way that is not an index out of range (such as a
	// constant expression of the wrong type).
	ErrMalformed = errors.New("wasmbin: malformed module")
	// ErrUnsupported means the module uses a feature or an encoding this
	// reader refuses: outside what wazero v1.12 accepts with
	// CoreFeaturesV2, or where this reader and wazero could disagree.
	//
	// Most such modules wazero refuses too. These few it accepts, and
	// Decode refuses all the same:
	//   - a block type in 5 bytes whose last byte has bit 6 or 7 set
	//     (wazero stops at 5 bytes and keeps 33 bits; the specification
	//     reads on, or refuses), and a negative block type in more than
	//     one byte (wazero reads 0xc0 0x7f as the empty type 0x40);
	//   - a SIMD sub-opcode from 0x80 not followed by 0x01 (wazero reads
	//     the sub-opcode as one byte, the specification as a LEB128);
	//   - what wazero decodes without checking its feature is enabled:
	//     exnref and (ref ...) value types, ref.null of exn or of a type
	//     index, a table type with an initialiser or of any byte but
	//     funcref and externref, rec groups, and more than one memory.
	ErrUnsupported = errors.New("wasmbin: unsupported feature or encoding")
	// ErrInvalidIndex means the module refers to a function, type, table,
	// memory, global, local, label, element or data segment it does not
	// have.
	ErrInvalidIndex = errors.New("wasmbin: index out of range")
	// ErrLimit means the module's structure is over one of the Limits.
	// The error is a *LimitError.
	ErrLimit = errors.New("wasmbin: structural limit exceeded")
)

// LimitError says which limit a module broke, where, and by how much.
type LimitError struct {
	Limit string // the Limits field, such as "LocalsPerFunction"
	Where string // what broke it, such as "function[12]" or "type section"
	Found uint64 // the value the module has
	Max   uint64 // the limit
}

func (e *LimitError) Error() string {
	if e.Limit == "CompileCost" {
		return fmt.Sprintf("%s: an estimated compile time of %d µs is over the limit %s of %d", e.Where, e.Found, e.Limit, e.Max)
	}
	return fmt.Sprintf("%s: %d is over the limit %s of %d", e.Where, e.Found, e.Limit, e.Max)
}

// Unwrap returns ErrLimit.
func (e *LimitError) Unwrap() error { return ErrLimit }

// Limits bound a module's structure. A zero field means no limit.
// DefaultLimits gives the values the host uses unless told otherwise.
type Limits struct {
	Types           uint32 // entries of the type section
	Functions       uint32 // imported and defined functions
	Imports         uint32
	Exports         uint32
	Globals         uint32 // imported and defined globals
	MutableGlobals  uint32 // imported and defined mutable globals
	Tables          uint32 // imported and defined tables
	ElementSegments uint32
	DataSegments    uint32
	ParamsResults   uint32 // params of one function or block type, and results likewise
	TableSize       uint32 // declared minimum size of a table

	LocalsPerFunction       uint32 // params and declared locals of one function: wazero makes a variable of each
	Locals                  uint64 // declared locals of all functions
	FunctionBodyBytes       uint32 // bytes of one function body
	InstructionsPerFunction uint32
	// ControlPerFunction bounds Code.Control: block, loop, if, else,
	// br_if and br_table targets, each of which starts a basic block.
	ControlPerFunction uint32
	StackHeight        uint32 // Code.MaxHeight: values on the operand stack at once
	BlockDepth         uint32 // nesting of block, loop, if, the function's own block counted
	LoopsPerFunction   uint32
	BrTableTargets     uint32 // targets of one br_table, the default counted
	Instructions       uint64 // instructions of the whole module
	// CompileCost bounds Module.CompileCost, the estimate of wazero's
	// compile time in microseconds. Decode checks it on the bytes it
	// reads; a host that rewrites the module before compiling it checks
	// the rewritten module's as well.
	CompileCost uint64
}

// DefaultLimits returns the limits the host applies by default: the
// WebAssembly JS API's implementation limits where they are low enough,
// and below them what keeps wazero's compile of any module the limits
// admit to a few seconds and bounded memory on the reference machine
// (host/internal/compilecost measured each: its README has the figures).
// "Largest real" is the largest figure of the modules wasmreg builds
// (TestDefaultLimitsMargin: the Go demo, the Go guest and factories, the
// C factories).
func DefaultLimits() Limits {
	return Limits{
		// Counts of the module's sections. Each entry costs wazero's
		// compiler well under 3 µs; these bound the memory Decode and
		// wazero's decoder allocate for them.
		Types:           1_000,     // largest real 23; each type costs an entry preamble: 1,000 of 1,000 params compile in 0.8 s
		Functions:       100_000,   // largest real 2,309; 12.5 µs each with its entry check: 1.3 s at the limit
		Imports:         10_000,    // largest real 25; 0.23 µs each
		Exports:         10_000,    // largest real 6; 0.56 µs each
		Globals:         1_000,     // largest real 8; every function declares a variable per global
		MutableGlobals:  32,        // largest real 8 (Go's); each call reloads every one: 4,000 calls × 4,000 took 4.4 s, 2.7 GB
		Tables:          16,        // largest real 1; no compile cost, with TableSize bounds instantiation memory
		ElementSegments: 100_000,   // largest real 1; 0.33 µs each
		DataSegments:    1_000_000, // largest real 39,846 (Go emits one per symbol); 0.15 µs each, over the JS API's 100,000 for Go modules 3 times the demo's
		ParamsResults:   1_000,     // the JS API's; their cost is quadratic only past ~10,000
		TableSize:       1_000_000, // host.DefaultTableLimit, which the host applies instead (class 5)

		// What wazero's compiler needs bounded per function: the
		// estimate (CompileCost) holds only within these.
		LocalsPerFunction:       2_048,     // largest real 1,112 (mlpc at -O0; 55 at -O2), params counted as wazero counts them; the estimate holds to here, not past ~2,500 across loops
		Locals:                  1 << 20,   // largest real 10,648 (mlpc at -O0); wazero's decoder allocates 24 B a declared local before any check of its own
		FunctionBodyBytes:       256 << 10, // largest real 29,238; bounds what Decode scans before it counts
		InstructionsPerFunction: 1 << 16,   // largest real 13,335; 65,536 calls with 35 mutable globals take 0.5 GB
		ControlPerFunction:      4_096,     // largest real 1,889 (Go's dispatch), a thinner margin: chains of blocks cost quadratically, 0.29 s a function here, 1.35 s at 8,000
		StackHeight:             256,       // largest real 10; live values × blocks: 254 across 4,096 ifs 0.5 s, 90 MB
		BlockDepth:              4_096,     // largest real 550 (Go's dispatch); ControlPerFunction bounds it too, and the estimate nested chains
		LoopsPerFunction:        512,       // largest real 53; each loop gets a check with an if, and a phi per local
		BrTableTargets:          4_096,     // largest real 965; ControlPerFunction bounds it too: 500,000 took 46 s, 1.2 GB
		Instructions:            8 << 20,   // largest real 1.1 million; a cheap cap before the estimate

		// The whole module: the estimate is 2.16 s for the Go demo with
		// the interrupt checks (1.3 s measured), under a third of it, so
		// that Go modules of 3 times its code pass; the worst module it
		// admits compiled in 5.3 to 5.7 s of CPU (one function of 2,048
		// locals across 1,122 ifs: the estimate is tightest on phis).
		CompileCost: 7_000_000,
	}
}

// ValType is a value type's byte.
type ValType byte

// The value types of CoreFeaturesV2.
const (
	I32       ValType = 0x7f
	I64       ValType = 0x7e
	F32       ValType = 0x7d
	F64       ValType = 0x7c
	V128      ValType = 0x7b
	FuncRef   ValType = 0x70
	ExternRef ValType = 0x6f
)

// SectionID is a section's id byte.
type SectionID byte

// The section ids of CoreFeaturesV2.
const (
	SecCustom    SectionID = 0
	SecType      SectionID = 1
	SecImport    SectionID = 2
	SecFunction  SectionID = 3
	SecTable     SectionID = 4
	SecMemory    SectionID = 5
	SecGlobal    SectionID = 6
	SecExport    SectionID = 7
	SecStart     SectionID = 8
	SecElement   SectionID = 9
	SecCode      SectionID = 10
	SecData      SectionID = 11
	SecDataCount SectionID = 12
)

// ExternKind is the kind of an import or export.
type ExternKind byte

// The extern kinds.
const (
	KindFunc   ExternKind = 0
	KindTable  ExternKind = 1
	KindMemory ExternKind = 2
	KindGlobal ExternKind = 3
)

// Section is one section as it lies in Module.Bytes.
type Section struct {
	ID        SectionID
	Offset    int    // of the id byte in Module.Bytes
	SizeWidth int    // bytes of the size's LEB128
	Payload   []byte // a slice of Module.Bytes
	Name      string // a custom section's name
}

// End returns the offset just after the section.
func (s *Section) End() int { return s.Offset + 1 + s.SizeWidth + len(s.Payload) }

// FuncType is a function type.
type FuncType struct {
	Params, Results []ValType
}

// TableType is a table's element type and size limits.
type TableType struct {
	Elem   ValType // FuncRef or ExternRef
	Min    uint32
	Max    uint32 // meaningful if HasMax
	HasMax bool
}

// MemoryType is a memory's size limits, in 64 KiB pages.
type MemoryType struct {
	Min    uint32
	Max    uint32 // meaningful if HasMax
	HasMax bool
}

// GlobalType is a global's value type and mutability.
type GlobalType struct {
	Type    ValType
	Mutable bool
}

// Import is one entry of the import section. Which of Func, Table,
// Memory and Global is meaningful depends on Kind.
type Import struct {
	Module, Name string
	Kind         ExternKind
	Func         uint32 // type index
	Table        TableType
	Memory       MemoryType
	Global       GlobalType
}

// Export is one entry of the export section.
type Export struct {
	Name  string
	Kind  ExternKind
	Index uint32
}

// ConstExpr is a constant expression: its bytes, up to and including its
// end, and its single instruction (CoreFeaturesV2 allows one).
type ConstExpr struct {
	Bytes []byte // a slice of Module.Bytes
	Op    byte   // 0x41 i32.const, 0x42 i64.const, 0x43, 0x44, 0xfd (v128.const), 0x23 global.get, 0xd0 ref.null, 0xd2 ref.func
	Value uint64 // the constant's bits, or the index of global.get and ref.func
}

// Global is one defined global.
type Global struct {
	Type GlobalType
	Init ConstExpr
}

// Segment modes of elements and data.
const (
	ModeActive      = 0
	ModePassive     = 1
	ModeDeclarative = 2 // elements only
)

// Element is one element segment.
type Element struct {
	Mode   int
	Table  uint32    // active segments
	Offset ConstExpr // active segments
	Type   ValType
	Count  uint32 // elements in the segment
}

// Data is one data segment.
type Data struct {
	Mode   int // ModeActive or ModePassive
	Memory uint32
	Offset ConstExpr // active segments
	Init   []byte    // a slice of Module.Bytes
}

// LocalDecl is one entry of a function's local declarations.
type LocalDecl struct {
	Count uint32
	Type  ValType
}

// Code is one function body, and what Decode learned decoding it.
type Code struct {
	Offset    int    // of the body's size LEB128 in Module.Bytes
	SizeWidth int    // bytes of that LEB128
	Body      []byte // locals and instructions, a slice of Module.Bytes
	Expr      int    // offset in Body of the first instruction
	Locals    []LocalDecl
	NumLocals uint32 // declared locals, params not counted

	Instructions uint32 // instructions, the final end included
	Loops        uint32
	MaxDepth     uint32 // deepest nesting of blocks, the function's own counted
	// MaxHeight bounds the values on the operand stack at any point of
	// the body (an upper bound: unreachable code counts as reachable).
	MaxHeight uint32
	Calls     uint32 // call and call_indirect
	// StateOps counts the instructions that change an instance's state
	// other than its memory and globals: table.set, table.grow,
	// table.fill, table.copy, table.init, elem.drop and data.drop. A host
	// that resets an instance by restoring its memory and globals
	// (recycling) can do so completely only for a module without any.
	StateOps uint32
	// Control counts block, loop, if, else, br_if and each target of a
	// br_table (the default included): what starts a basic block.
	Control uint32

	// The basic blocks wazero's SSA builder makes of the reachable code
	// (it emits nothing for unreachable code), the entry block not
	// counted, for the compile-cost estimate (cost.go).
	Blocks    uint32
	Merges    uint32 // blocks of more than one predecessor, loop headers branched back to included
	BrTargets uint32 // br_table targets, the defaults included, reachable or not
	// DepthSum sums over the blocks a bound of their depth in the
	// dominator tree; PredSquares the square of their predecessor counts.
	DepthSum, PredSquares uint64
	// Cost is the function's share of Module.CompileCost, in microseconds.
	Cost float64
}

// Module is a decoded module. It refers to the bytes it was decoded from,
// which must not change while it is in use.
type Module struct {
	Bytes    []byte
	Sections []Section // in order, custom sections included

	Types     []FuncType
	Imports   []Import
	Functions []uint32 // type index of each defined function
	Tables    []TableType
	Memories  []MemoryType
	Globals   []Global
	Exports   []Export
	HasStart  bool
	Start     uint32
	Elements  []Element
	// HasDataCount reports a data count section, DataCount its value.
	HasDataCount bool
	DataCount    uint32
	Code         []Code // one per defined function
	Data         []Data

	// Imported counts of each index space, which the defined entries follow.
	ImportedFuncs, ImportedTables, ImportedMemories, ImportedGlobals uint32

	// The index spaces, imported entries first, for the checks of the
	// code section and FuncType.
	funcTypes []uint32     // type index of every function
	tables    []ValType    // element type of every table
	globals   []GlobalType // every global's type
	declared  []uint64     // bit set of the functions ref.func may name
}

// Section returns the module's non-custom section with id, or nil.
func (m *Module) Section(id SectionID) *Section {
	for i := range m.Sections {
		if s := &m.Sections[i]; s.ID == id && id != SecCustom {
			return s
		}
	}
	return nil
}

// NumFuncs, NumTables, NumMemories and NumGlobals return the size of each
// index space: imported, then defined.
func (m *Module) NumFuncs() uint32    { return m.ImportedFuncs + uint32(len(m.Functions)) }
func (m *Module) NumTables() uint32   { return m.ImportedTables + uint32(len(m.Tables)) }
func (m *Module) NumMemories() uint32 { return m.ImportedMemories + uint32(len(m.Memories)) }
func (m *Module) NumGlobals() uint32  { return m.ImportedGlobals + uint32(len(m.Globals)) }

// FuncType returns the type of function fn (in the function index space).
func (m *Module) FuncType(fn uint32) (FuncType, bool) {
	if uint64(len(m.funcTypes)) == uint64(m.NumFuncs()) {
		if fn >= uint32(len(m.funcTypes)) || m.funcTypes[fn] >= uint32(len(m.Types)) {
			return FuncType{}, false
		}
		return m.Types[m.funcTypes[fn]], true
	}
	var t uint32
	switch {
	case fn < m.ImportedFuncs:
		n := uint32(0)
		for _, imp := range m.Imports {
			if imp.Kind != KindFunc {
				continue
			}
			if n == fn {
				t = imp.Func
				break
			}
			n++
		}
	case fn-m.ImportedFuncs < uint32(len(m.Functions)):
		t = m.Functions[fn-m.ImportedFuncs]
	default:
		return FuncType{}, false
	}
	if t >= uint32(len(m.Types)) {
		return FuncType{}, false
	}
	return m.Types[t], true
}

// Op is an instruction's opcode: the byte itself for a one-byte opcode,
// Prefix<<24 | sub-opcode for the 0xfc and 0xfd prefixes (OpMisc, OpSIMD).
type Op uint32

// Prefixed opcodes are Prefix<<24 | sub.
const (
	OpMisc Op = 0xfc << 24
	OpSIMD Op = 0xfd << 24
)

// A few opcodes the rewrites look for.
const (
	OpUnreachable  Op = 0x00
	OpBlock        Op = 0x02
	OpLoop         Op = 0x03
	OpIf           Op = 0x04
	OpElse         Op = 0x05
	OpEnd          Op = 0x0b
	OpBr           Op = 0x0c
	OpBrIf         Op = 0x0d
	OpBrTable      Op = 0x0e
	OpReturn       Op = 0x0f
	OpCall         Op = 0x10
	OpCallIndirect Op = 0x11
	OpTableSet     Op = 0x26
	OpTableGrow    Op = OpMisc | 15
	OpDataDrop     Op = OpMisc | 9
	OpElemDrop     Op = OpMisc | 13
	OpMemoryInit   Op = OpMisc | 8
	OpMemoryCopy   Op = OpMisc | 10
	OpMemoryFill   Op = OpMisc | 11
	OpTableInit    Op = OpMisc | 12
	OpTableCopy    Op = OpMisc | 14
	OpTableFill    Op = OpMisc | 17
)

// Instr is one decoded instruction. Which immediates are meaningful
// depends on Op.
type Instr struct {
	Op    Op
	Start int // offset in Code.Body of the opcode
	End   int // offset in Code.Body just after the immediates
	// Depth is the number of open blocks before the instruction, the
	// function's own included (1 at the top level of the body).
	Depth uint32

	// Index is the first index immediate: label (br, br_if; br_table's
	// default), function
	// (call, ref.func), type (call_indirect), local, global, table
	// (table.get/set/grow/size/fill), data (memory.init, data.drop),
	// element (table.init, elem.drop), destination table (table.copy).
	Index uint32
	// Index2 is the second: table (call_indirect, table.init), source
	// table (table.copy).
	Index2 uint32
	// BlockType is a block, loop or if's type as wazero reads it: -64
	// (0x40) empty, a negative value type, or a type index.
	BlockType int64
	// Align and Offset are a memory instruction's memarg.
	Align, Offset uint32
	// Targets is how many labels a br_table lists, the default counted.
	Targets uint32
	// Lane is a SIMD lane index.
	Lane byte
	// Const is a constant's bits (i32, i64, f32, f64).
	Const uint64
}

// ChangesState reports whether op changes an instance's state other than
// its memory and globals: a table's entries or size, or whether a passive
// segment is still there (see Code.StateOps).
func (op Op) ChangesState() bool {
	switch op {
	case OpTableSet, OpTableGrow, OpTableFill, OpTableCopy, OpTableInit, OpElemDrop, OpDataDrop:
		return true
	}
	return false
}

// StateOp returns the first function (in the function index space) with
// an instruction that changes state other than memory and globals
// (Code.StateOps), and whether there is one.
func (m *Module) StateOp() (fn uint32, ok bool) {
	for i := range m.Code {
		if m.Code[i].StateOps > 0 {
			return m.ImportedFuncs + uint32(i), true
		}
	}
	return 0, false
}

// AppendU32 appends v as an unsigned LEB128 of as few bytes as it needs.
func AppendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// AppendU32Width appends v as an unsigned LEB128 padded to width bytes
// (at most 5) when it fits in them, else in as few as it needs.
func AppendU32Width(b []byte, v uint32, width int) []byte {
	n := 1
	for x := v >> 7; x != 0; x >>= 7 {
		n++
	}
	if width <= n || width > 5 {
		return AppendU32(b, v)
	}
	for range width - 1 {
		b = append(b, byte(v&0x7f)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// AppendS32 appends v as a signed LEB128 of as few bytes as it needs.
func AppendS32(b []byte, v int32) []byte { return AppendS64(b, int64(v)) }

// AppendS64 appends v as a signed LEB128 of as few bytes as it needs.
func AppendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// AppendName appends a name: its length and its bytes.
func AppendName(b []byte, s string) []byte {
	return append(AppendU32(b, uint32(len(s))), s...)
}

// AppendSection appends a section: its id, its size and its payload.
func AppendSection(b []byte, id SectionID, payload []byte) []byte {
	b = append(b, byte(id))
	b = AppendU32(b, uint32(len(payload)))
	return append(b, payload...)
}
