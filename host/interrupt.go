package host

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// Interrupting a guest without wazero's help: wazero's close-on-context-done
// makes compiled code leave for Go at every loop header to ask whether the
// call should stop, ~30 ns per loop iteration (a Go guest runs 55× slower
// than native with it, 9× without). instrumentLoops rewrites a module so
// that the guest asks itself instead: it adds a mutable i32 global, the stop
// flag, and right after every `loop` instruction the check
//
//	global.get $stop
//	if
//	  unreachable
//	end
//
// which costs a load and a branch. The host compiles the rewrite on a runtime
// without close-on-context-done and interrupts a call by setting the
// exported flag to 1 from another goroutine: the guest traps at its next
// loop header. The check sits where wazero would have put its own, at loop
// headers only, so the rewrite stops exactly the guests wazero would.
//
// Go cannot preempt a goroutine that runs compiled guest code, so the
// rewrite also counts loop iterations and returns to Go once every
// yieldPeriod of them (loopCheck says how and why): without that, a garbage
// collection starting during a long loop would hang the whole process.
//
// The host must hold the instance before any guest code runs, so the rewrite
// also drops the start section and exports the start function instead, for
// the host to call.
//
// The rewrite decodes every instruction, so it must read each one exactly as
// wazero does: a loop it missed would be one the host cannot stop. It knows
// the instructions wazero v1.12 accepts (func_validation.go) and refuses, with
// errNoInstrument, any other and any encoding where wazero and the spec may
// part ways, so that the host falls back to wazero's own mechanism.

const (
	// stopGlobalExport names the stop flag the rewrite exports.
	stopGlobalExport = "__wasmreg_stop"
	// startExport names the former start function the rewrite exports.
	startExport = "__wasmreg_start"
)

// maxLocalsPerFunction bounds the locals a rewritten function declares:
// wazero allocates them up front, and no compiler we know declares this many.
const maxLocalsPerFunction = 1 << 20

// errNoInstrument wraps every error of instrumentLoops: the host then
// compiles the module as it is and interrupts it with wazero's mechanism.
var errNoInstrument = errors.New("module not suited to loop instrumentation")

// interruptPlan is what instrumentLoops added.
type interruptPlan struct {
	stopGlobal string // export name of the added global: "__wasmreg_stop"
	start      string // export name of the former start function, "" if none: "__wasmreg_start"
	loops      int    // loop headers that check the flag
}

// Section ids of the binary format.
const (
	secCustom   = 0
	secType     = 1
	secImport   = 2
	secFunction = 3
	secTable    = 4
	secGlobal   = 6
	secExport   = 7
	secStart    = 8
	secCode     = 10
)

// sectionRank orders the non-custom sections as the binary format requires:
// the tag section (13) comes between memory and global, data count (12)
// between element and code. Zero means unknown.
var sectionRank = [...]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

// wasmSection is one section of a module: its id and where it lies.
type wasmSection struct {
	id        byte
	header    int // offset of the id byte
	sizeWidth int // bytes of the size's LEB128, kept when rewritten
	payload   []byte
}

// instrumentLoops returns wasm with a stop flag checked after every loop
// instruction, its start section turned into an export, and what it added.
// It appends two globals (the stop flag and the iteration count) and a
// table (grown by 0 to return to Go), so that no index changes.
// Every error wraps errNoInstrument; those about bytes that are not a valid
// module also wrap errMalformed. It never changes the module's behaviour
// while the flag is 0, and keeps every other section byte for byte except
// DWARF custom sections (".debug_*"), whose code offsets would be wrong.
func instrumentLoops(wasm []byte) ([]byte, *interruptPlan, error) {
	out, plan, err := instrument(wasm)
	if err != nil && !errors.Is(err, errNoInstrument) {
		err = fmt.Errorf("%w: %w", errNoInstrument, err)
	}
	return out, plan, err
}

func instrument(wasm []byte) ([]byte, *interruptPlan, error) {
	sections, err := splitSections(wasm)
	if err != nil {
		return nil, nil, err
	}
	byID := map[byte]*wasmSection{}
	for i := range sections {
		if s := &sections[i]; s.id != secCustom {
			byID[s.id] = s
		}
	}

	var imports moduleImports
	if s := byID[secImport]; s != nil {
		if imports, err = readImportCounts(s.payload); err != nil {
			return nil, nil, fmt.Errorf("import section: %w", err)
		}
	}
	// The added globals and table come after all others: no index moves.
	definedGlobals, err := vectorLength(byID[secGlobal])
	if err != nil {
		return nil, nil, fmt.Errorf("global section: %w", err)
	}
	definedTables, err := vectorLength(byID[secTable])
	if err != nil {
		return nil, nil, fmt.Errorf("table section: %w", err)
	}
	stopIndex := uint64(imports.globals) + uint64(definedGlobals)
	tickIndex := stopIndex + 1
	yieldIndex := uint64(imports.tables) + uint64(definedTables)
	if tickIndex >= math.MaxUint32 || yieldIndex >= math.MaxUint32 {
		return nil, nil, fmt.Errorf("%w: %d globals, %d tables", errNoInstrument, tickIndex, yieldIndex)
	}

	plan := &interruptPlan{stopGlobal: stopGlobalExport}
	added := []wasmExport{{name: stopGlobalExport, kind: 3, index: uint32(stopIndex)}}
	if s := byID[secStart]; s != nil {
		r := &reader{b: s.payload}
		fn := r.u32()
		if r.err != nil || r.off != len(s.payload) {
			return nil, nil, fmt.Errorf("start section: %w", errMalformed)
		}
		if err := checkStartType(byID, imports.funcTypes, fn); err != nil {
			return nil, nil, fmt.Errorf("start function[%d]: %w", fn, err)
		}
		plan.start = startExport
		added = append(added, wasmExport{name: startExport, kind: 0, index: fn})
	}
	exportPayload := []byte{0}
	if s := byID[secExport]; s != nil {
		exportPayload = s.payload
	}
	exports, err := appendExports(nil, exportPayload, added)
	if err != nil {
		return nil, nil, fmt.Errorf("export section: %w", err)
	}

	check := loopCheck(uint32(stopIndex), uint32(tickIndex), uint32(yieldIndex))
	newGlobals := []byte{
		0x7f, 0x01, 0x41, 0x00, 0x0b, // stop flag: (global (mut i32) (i32.const 0))
		0x7f, 0x01, 0x41, 0x00, 0x0b, // tick: (global (mut i32) (i32.const 0))
	}
	newTable := []byte{0x70, 0x00, 0x00} // yield: (table 0 funcref)

	out := make([]byte, 0, len(wasm)+len(wasm)/4+64)
	out = append(out, wasm[:8]...)
	// Sections the module lacks are added before the first section that
	// must follow them.
	missing := map[byte]bool{secTable: byID[secTable] == nil, secGlobal: byID[secGlobal] == nil, secExport: byID[secExport] == nil}
	emitMissing := func(rank int) {
		for _, id := range []byte{secTable, secGlobal, secExport} {
			if !missing[id] || rank <= sectionRank[id] {
				continue
			}
			missing[id] = false
			switch id {
			case secTable:
				out = appendSection(out, id, append([]byte{1}, newTable...))
			case secGlobal:
				out = appendSection(out, id, append([]byte{2}, newGlobals...))
			case secExport:
				out = appendSection(out, id, exports)
			}
		}
	}
	for i := range sections {
		s := &sections[i]
		end := s.header + 1 + s.sizeWidth + len(s.payload)
		if s.id == secCustom {
			// splitSections checked the name.
			if name := (&reader{b: s.payload}).name(); !strings.HasPrefix(name, ".debug_") {
				out = append(out, wasm[s.header:end]...)
			}
			continue
		}
		emitMissing(sectionRank[s.id])
		switch s.id {
		case secTable:
			out = appendSectionWidth(out, s.id, extendVector(s.payload, 1, newTable), s.sizeWidth)
		case secGlobal:
			out = appendSectionWidth(out, s.id, extendVector(s.payload, 2, newGlobals), s.sizeWidth)
		case secExport:
			out = appendSectionWidth(out, s.id, exports, s.sizeWidth)
		case secStart: // the host calls it as startExport
		case secCode:
			out = append(out, secCode)
			sizeAt := len(out)
			out = appendU32Width(out, 0, s.sizeWidth) // patched below
			bodyAt := len(out)
			if out, err = instrumentCode(out, s.payload, check, plan); err != nil {
				return nil, nil, fmt.Errorf("code section: %w", err)
			}
			if out, err = patchSize(out, sizeAt, bodyAt, s.sizeWidth); err != nil {
				return nil, nil, fmt.Errorf("code section: %w", err)
			}
		default:
			out = append(out, wasm[s.header:end]...)
		}
	}
	emitMissing(math.MaxInt)
	return out, plan, nil
}

// yieldPeriod is how many loop iterations, over all loops, the guest runs
// between two returns to Go: a power of two, at most 1<<16 (the mask is
// encoded in 3 bytes below).
const yieldPeriod = 1 << 16

// loopCheck returns the code inserted after every loop instruction:
//
//	global.get $stop              ;; the host sets it to stop the call
//	if
//	  unreachable
//	end
//	global.get $tick              ;; $tick++
//	i32.const 1
//	i32.add
//	global.set $tick
//	global.get $tick              ;; every yieldPeriod iterations
//	i32.const yieldPeriod-1
//	i32.and
//	i32.eqz
//	if
//	  ref.null func               ;; grow $yield by nothing: return to Go
//	  i32.const 0
//	  table.grow $yield
//	  drop
//	end
//
// The second half is there because Go cannot preempt a goroutine running
// compiled guest code: without a return to Go now and then, a garbage
// collection that starts during a long loop stops every other goroutine
// and waits for the guest, including the one that would set the flag, and
// the process hangs. wazero's close-on-context-done avoids that by
// returning to Go at every loop header; growing a table by 0 is the
// cheapest such return wazero offers a module without imports.
func loopCheck(stop, tick, yield uint32) []byte {
	b := []byte{0x23}
	b = appendU32(b, stop)
	b = append(b, 0x04, 0x40, 0x00, 0x0b)
	b = append(b, 0x23)
	b = appendU32(b, tick)
	b = append(b, 0x41, 0x01, 0x6a, 0x24)
	b = appendU32(b, tick)
	b = append(b, 0x23)
	b = appendU32(b, tick)
	b = append(b, 0x41)
	b = appendS32(b, yieldPeriod-1)
	b = append(b, 0x71, 0x45, 0x04, 0x40, 0xd0, 0x70, 0x41, 0x00, 0xfc, 0x0f)
	b = appendU32(b, yield)
	return append(b, 0x1a, 0x0b)
}

func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// vectorLength returns the element count a section starts with, 0 for a
// section the module lacks.
func vectorLength(s *wasmSection) (uint32, error) {
	if s == nil {
		return 0, nil
	}
	r := &reader{b: s.payload}
	n := r.u32()
	return n, r.err
}

// extendVector returns a vector section's payload with added more elements,
// items, at its end; the count keeps its width. vectorLength read the count.
func extendVector(payload []byte, added uint32, items []byte) []byte {
	r := &reader{b: payload}
	n := r.u32()
	b := appendU32Width(make([]byte, 0, len(payload)+len(items)+5), n+added, r.off)
	b = append(b, payload[r.off:]...)
	return append(b, items...)
}

// splitSections checks the header and the order of the sections and
// returns them.
func splitSections(wasm []byte) ([]wasmSection, error) {
	if len(wasm) < 8 || string(wasm[:8]) != "\x00asm\x01\x00\x00\x00" {
		return nil, fmt.Errorf("header: %w", errMalformed)
	}
	var sections []wasmSection
	lastRank := 0
	r := &reader{b: wasm, off: 8}
	for r.off < len(wasm) {
		s := wasmSection{header: r.off}
		s.id = r.byte()
		sizeAt := r.off
		size := uint64(r.u32())
		s.sizeWidth = r.off - sizeAt
		if r.err != nil || size > uint64(len(wasm)-r.off) {
			return nil, fmt.Errorf("section at byte %d: %w", s.header, errMalformed)
		}
		s.payload = wasm[r.off : r.off+int(size)]
		r.off += int(size)
		if s.id == secCustom {
			c := &reader{b: s.payload}
			if name := c.name(); c.err != nil || !utf8.ValidString(name) {
				return nil, fmt.Errorf("custom section at byte %d: name: %w", s.header, errMalformed)
			}
		} else {
			rank := 0
			if int(s.id) < len(sectionRank) {
				rank = sectionRank[s.id]
			}
			if rank == 0 {
				return nil, fmt.Errorf("section id %d at byte %d: %w", s.id, s.header, errMalformed)
			}
			if rank <= lastRank {
				return nil, fmt.Errorf("section id %d at byte %d out of order: %w", s.id, s.header, errMalformed)
			}
			lastRank = rank
		}
		sections = append(sections, s)
	}
	return sections, nil
}

// moduleImports is what the rewrite needs of the import section.
type moduleImports struct {
	globals   uint32   // imported globals, which come first in the index space
	tables    uint32   // imported tables, likewise
	funcTypes []uint32 // type index of each imported function
}

// readImportCounts reads the import section strictly: an entry it cannot
// size exactly as wazero does would shift the index of the stop flag.
func readImportCounts(payload []byte) (moduleImports, error) {
	var imps moduleImports
	r := &reader{b: payload}
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case 0: // function: type index
			imps.funcTypes = append(imps.funcTypes, r.u32())
		case 1: // table: reference type, limits
			imps.tables++
			if t := r.byte(); t == 0x40 {
				// wazero's table with an initialiser, not in the spec.
				return imps, fmt.Errorf("%w: import[%d]: table with an initialiser", errNoInstrument, i)
			} else if t == 0x63 || t == 0x64 {
				r.s33()
			}
			r.limits33()
		case 2: // memory: limits
			r.limits33()
		case 3: // global: value type, mutability
			r.valueType()
			if m := r.byte(); m > 1 {
				return imps, fmt.Errorf("import[%d]: global mutability %d: %w", i, m, errMalformed)
			}
			imps.globals++
		case 4: // tag: attribute, type index
			r.byte()
			r.u32()
		default:
			return imps, fmt.Errorf("import[%d]: kind %d: %w", i, kind, errMalformed)
		}
	}
	if r.err != nil {
		return imps, r.err
	}
	if r.off != len(payload) {
		return imps, errMalformed
	}
	return imps, nil
}

// checkStartType refuses a start function whose type is not [] -> [], so
// that the rewrite accepts no module wazero would refuse for it.
func checkStartType(byID map[byte]*wasmSection, importTypes []uint32, fn uint32) error {
	var typeIndex uint32
	if fn < uint32(len(importTypes)) {
		typeIndex = importTypes[fn]
	} else {
		s := byID[secFunction]
		if s == nil {
			return fmt.Errorf("no such function: %w", errMalformed)
		}
		r := &reader{b: s.payload}
		n, want := r.u32(), fn-uint32(len(importTypes))
		if r.err != nil || want >= n {
			return fmt.Errorf("no such function: %w", errMalformed)
		}
		for range want + 1 {
			if typeIndex = r.u32(); r.err != nil {
				return r.err
			}
		}
	}
	s := byID[secType]
	if s == nil {
		return fmt.Errorf("no type section: %w", errMalformed)
	}
	r := &reader{b: s.payload}
	n := r.u32()
	index := uint32(0)
	for i := uint32(0); i < n && r.err == nil; i++ {
		members := uint32(1)
		if r.off < len(r.b) && r.b[r.off] == 0x4e { // recursion group
			r.off++
			members = r.u32()
		}
		for j := uint32(0); j < members && r.err == nil; j++ {
			if form := r.byte(); r.err != nil {
				return r.err
			} else if form != 0x60 {
				return fmt.Errorf("%w: type[%d] of form 0x%02x", errNoInstrument, index, form)
			}
			params := r.valueTypes()
			results := r.valueTypes()
			if index == typeIndex {
				if r.err != nil {
					return r.err
				}
				if params != 0 || results != 0 {
					return fmt.Errorf("type[%d] has %d params and %d results: %w", index, params, results, errMalformed)
				}
				return nil
			}
			index++
		}
	}
	if r.err != nil {
		return r.err
	}
	return fmt.Errorf("no type[%d]: %w", typeIndex, errMalformed)
}

// wasmExport is one entry the rewrite adds to the export section.
type wasmExport struct {
	name  string
	kind  byte // 0 function, 3 global
	index uint32
}

// appendExports appends to dst the export section payload with added at
// its end, refusing names the module already exports.
func appendExports(dst, payload []byte, added []wasmExport) ([]byte, error) {
	r := &reader{b: payload}
	n := r.u32()
	width := r.off
	for i := uint32(0); i < n && r.err == nil; i++ {
		name := r.name()
		r.byte()
		r.u32()
		for _, e := range added {
			if name == e.name && r.err == nil {
				return nil, fmt.Errorf("%w: the module already exports %q", errNoInstrument, name)
			}
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if r.off != len(payload) || uint64(n)+uint64(len(added)) > math.MaxUint32 {
		return nil, errMalformed
	}
	dst = appendU32Width(dst, n+uint32(len(added)), width)
	dst = append(dst, payload[width:]...)
	for _, e := range added {
		dst = appendU32(dst, uint32(len(e.name)))
		dst = append(dst, e.name...)
		dst = append(dst, e.kind)
		dst = appendU32(dst, e.index)
	}
	return dst, nil
}

// instrumentCode appends to dst the code section payload with check after
// every loop instruction of every function.
func instrumentCode(dst, payload, check []byte, plan *interruptPlan) ([]byte, error) {
	r := &reader{b: payload}
	n := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	dst = append(dst, payload[:r.off]...) // the count, as it was
	for i := uint32(0); i < n; i++ {
		sizeAt := r.off
		size := uint64(r.u32())
		width := r.off - sizeAt
		if r.err != nil || size > uint64(len(payload)-r.off) {
			return nil, fmt.Errorf("function[%d]: size: %w", i, errMalformed)
		}
		body := payload[r.off : r.off+int(size)]
		r.off += int(size)

		at := len(dst)
		dst = appendU32Width(dst, 0, width) // patched below
		bodyAt := len(dst)
		var err error
		if dst, err = instrumentBody(dst, body, check, plan); err != nil {
			return nil, fmt.Errorf("function[%d]: %w", i, err)
		}
		if dst, err = patchSize(dst, at, bodyAt, width); err != nil {
			return nil, fmt.Errorf("function[%d]: %w", i, err)
		}
	}
	if r.off != len(payload) {
		return nil, fmt.Errorf("%d bytes after the last function: %w", len(payload)-r.off, errMalformed)
	}
	return dst, nil
}

// instrumentBody appends to dst one function body, its locals as they were
// and check after every loop instruction.
func instrumentBody(dst, body, check []byte, plan *interruptPlan) ([]byte, error) {
	r := &reader{b: body}
	var locals uint64
	for n, i := r.u32(), uint32(0); i < n && r.err == nil; i++ {
		locals += uint64(r.u32())
		r.valueType()
	}
	if r.err != nil {
		return nil, fmt.Errorf("locals: %w", r.err)
	}
	if locals > maxLocalsPerFunction {
		return nil, fmt.Errorf("%w: %d locals", errNoInstrument, locals)
	}

	copied := 0 // body[:copied] is in dst already
	depth := 1  // the function's own block
	for depth > 0 {
		at := r.off
		if at >= len(body) {
			return nil, fmt.Errorf("no end: %w", errMalformed)
		}
		op := r.byte()
		switch {
		case op == 0x03: // loop
			r.blockType()
			depth++
			if r.err == nil {
				dst = append(dst, body[copied:r.off]...)
				dst = append(dst, check...)
				copied = r.off
				plan.loops++
			}
		case op == 0x02 || op == 0x04: // block, if
			r.blockType()
			depth++
		case op == 0x1f: // try_table
			r.blockType()
			depth++
			for n, i := r.u32(), uint32(0); i < n && r.err == nil; i++ {
				switch kind := r.byte(); kind {
				case 0, 1: // catch, catch_ref: tag, label
					r.u32()
					r.u32()
				case 2, 3: // catch_all, catch_all_ref: label
					r.u32()
				default:
					if r.err == nil {
						return nil, fmt.Errorf("try_table at %d: catch kind %d: %w", at, kind, errMalformed)
					}
				}
			}
		case op == 0x0b: // end
			depth--
		case op == 0x0e: // br_table
			for n, i := r.u32(), uint32(0); i <= n && r.err == nil; i++ {
				r.u32()
			}
		case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect: type, table
			r.u32()
			r.u32()
		case op == 0x1c: // select t
			if r.byte() != 1 && r.err == nil {
				return nil, fmt.Errorf("select at %d: type count: %w", at, errMalformed)
			}
			r.valueType()
		case op == 0x3f || op == 0x40: // memory.size, memory.grow
			r.memoryIndex()
		case op == 0x41: // i32.const
			r.s32()
		case op == 0x42: // i64.const
			r.s64()
		case op == 0x43: // f32.const
			r.skip(4)
		case op == 0x44: // f64.const
			r.skip(8)
		case op == 0xd0: // ref.null: wazero reads a heap type byte, else a type index
			if r.off < len(body) && (body[r.off] == 0x6f || body[r.off] == 0x70 || body[r.off] == 0x69) {
				r.off++
			} else {
				r.u32()
			}
		case op == 0xfc:
			r.miscOp(at)
		case op == 0xfd:
			r.simdOp(at)
		case op == 0xfe:
			r.atomicOp(at)
		case op >= 0x28 && op <= 0x3e: // loads and stores
			r.memArg()
		case op == 0x08 || // throw: tag
			op == 0x0c || op == 0x0d || // br, br_if: label
			op == 0x10 || op == 0x12 || // call, return_call: function
			op == 0x14 || op == 0x15 || // call_ref, return_call_ref: type
			op >= 0x20 && op <= 0x26 || // local.*, global.*, table.get, table.set
			op == 0xd2 || // ref.func
			op == 0xd5 || op == 0xd6: // br_on_null, br_on_non_null: label
			r.u32()
		case op <= 0x01 || op == 0x05 || op == 0x0a || op == 0x0f || op == 0x1a || op == 0x1b || // unreachable, nop, else, throw_ref, return, drop, select
			op >= 0x45 && op <= 0xc4 || // numeric, sign extension
			op == 0xd1 || op == 0xd4: // ref.is_null, ref.as_non_null
		default: // legacy exceptions (try, catch, rethrow, delegate, catch_all), GC, anything newer
			return nil, fmt.Errorf("%w: opcode 0x%02x at %d", errNoInstrument, op, at)
		}
		if r.err != nil {
			return nil, fmt.Errorf("instruction 0x%02x at %d: %w", op, at, r.err)
		}
	}
	if r.off != len(body) {
		return nil, fmt.Errorf("%d bytes after the end: %w", len(body)-r.off, errMalformed)
	}
	return append(dst, body[copied:]...), nil
}

// miscOp skips a 0xfc instruction after its prefix: saturating
// truncations, bulk memory and table instructions.
func (r *reader) miscOp(at int) {
	switch sub := r.u32(); {
	case r.err != nil:
	case sub <= 7: // trunc_sat
	case sub == 8: // memory.init: data, memory
		r.u32()
		r.memoryIndex()
	case sub == 9 || sub == 13 || sub >= 15 && sub <= 17: // data.drop, elem.drop, table.grow/size/fill
		r.u32()
	case sub == 10: // memory.copy: two memories
		r.memoryIndex()
		r.memoryIndex()
	case sub == 11: // memory.fill
		r.memoryIndex()
	case sub == 12 || sub == 14: // table.init: element, table; table.copy: two tables
		r.u32()
		r.u32()
	default:
		r.err = fmt.Errorf("%w: opcode 0xfc %d at %d", errNoInstrument, sub, at)
	}
}

// simdOp skips a 0xfd instruction after its prefix. wazero reads the
// sub-opcode as one byte and the second byte of a two-byte LEB128 (always 1
// for the opcodes 0x80 to 0xff) as a nop: read it so, and refuse anything
// that is not one of these two encodings.
func (r *reader) simdOp(at int) {
	sub := r.byte()
	if r.err != nil {
		return
	}
	if sub >= 0x80 {
		if r.byte() != 0x01 {
			if r.err == nil {
				r.err = fmt.Errorf("%w: opcode 0xfd 0x%02x, not followed by 0x01, at %d", errNoInstrument, sub, at)
			}
			return
		}
	}
	switch {
	case sub <= 0x0b || sub == 0x5c || sub == 0x5d: // loads, store, load zero
		r.memArg()
	case sub == 0x0c || sub == 0x0d: // v128.const, i8x16.shuffle
		r.skip(16)
	case sub >= 0x15 && sub <= 0x22: // extract_lane, replace_lane
		r.skip(1)
	case sub >= 0x54 && sub <= 0x5b: // load_lane, store_lane
		r.memArg()
		r.skip(1)
	case simdUnused(sub):
		r.err = fmt.Errorf("%w: opcode 0xfd 0x%02x at %d", errNoInstrument, sub, at)
	}
}

// simdUnused reports the sub-opcodes below 0x100 that the SIMD proposal
// leaves unused (and wazero refuses).
func simdUnused(sub byte) bool {
	switch sub {
	case 0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb,
		0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee:
		return true
	}
	return false
}

// atomicOp skips a 0xfe instruction after its prefix. wazero reads the
// sub-opcode as one byte; all are below 0x80, where that is the LEB128.
func (r *reader) atomicOp(at int) {
	switch sub := r.byte(); {
	case r.err != nil:
	case sub == 0x03: // atomic.fence
		if r.byte() != 0 && r.err == nil {
			r.err = fmt.Errorf("atomic.fence at %d: %w", at, errMalformed)
		}
	case sub <= 0x02 || sub >= 0x10 && sub <= 0x4e: // notify, wait, loads, stores, read-modify-writes
		r.memArg()
	default:
		r.err = fmt.Errorf("%w: opcode 0xfe 0x%02x at %d", errNoInstrument, sub, at)
	}
}

// memArg skips an alignment and an offset. wazero refuses an alignment
// of 32 or more, so the multi-memory encoding (bit 6 set, a memory index
// follows) and memory64's 64-bit offsets never reach it.
func (r *reader) memArg() {
	if align := r.u32(); align >= 32 && r.err == nil {
		r.err = fmt.Errorf("%w: memory alignment %d (multiple memories)", errNoInstrument, align)
		return
	}
	r.u32()
}

// memoryIndex skips the memory index of memory.size, memory.grow and the
// bulk memory instructions, which wazero wants as the single byte 0.
func (r *reader) memoryIndex() {
	if b := r.byte(); b != 0 && r.err == nil {
		r.err = fmt.Errorf("%w: memory index byte 0x%02x (multiple memories)", errNoInstrument, b)
	}
}

// blockType skips a block type as wazero's DecodeBlockType reads it: an
// s33 that is an empty type, a value type or a type index, or a reference
// type prefix (0x63, 0x64) followed by a heap type.
func (r *reader) blockType() {
	switch v := r.s33(); {
	case r.err != nil, v >= 0: // type index
	case v == -64, v >= -5, v == -16, v == -17, v == -23: // empty, i32 … v128, funcref, externref, exnref
	case v == -29 || v == -28: // (ref null ht), (ref ht)
		r.s33()
	default:
		r.err = fmt.Errorf("block type %d: %w", v, errMalformed)
	}
}

// valueType skips a value type: one byte, or a reference type prefix
// (0x63, 0x64) followed by a heap type.
func (r *reader) valueType() {
	switch b := r.byte(); b {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69:
	case 0x63, 0x64:
		r.s33()
	default:
		if r.err == nil {
			r.err = fmt.Errorf("value type 0x%02x: %w", b, errMalformed)
		}
	}
}

// valueTypes skips a vector of value types and returns its length.
func (r *reader) valueTypes() uint32 {
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		r.valueType()
	}
	return n
}

// limits33 skips limits with the flags wazero knows: bit 0 a maximum
// follows, bit 1 shared.
func (r *reader) limits33() {
	flags := r.byte()
	if flags > 3 && r.err == nil {
		r.err = fmt.Errorf("limits flags 0x%02x: %w", flags, errMalformed)
		return
	}
	r.u32()
	if flags&1 != 0 {
		r.u32()
	}
}

// s33 reads a signed LEB128 of at most 5 bytes, as block and heap types
// are. wazero stops after 5 bytes even if the last says more follow; refuse
// that rather than read it differently.
func (r *reader) s33() int64 { return r.sleb(5) }

// appendU32Width appends v as an unsigned LEB128 padded to width bytes when
// it fits, so that sizes the rewrite recomputes keep their original width.
func appendU32Width(b []byte, v uint32, width int) []byte {
	n := 1
	for x := v >> 7; x != 0; x >>= 7 {
		n++
	}
	if width <= n || width > 5 {
		return appendU32(b, v)
	}
	for range width - 1 {
		b = append(b, byte(v&0x7f)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendSectionWidth(out []byte, id byte, payload []byte, width int) []byte {
	out = append(out, id)
	out = appendU32Width(out, uint32(len(payload)), width)
	return append(out, payload...)
}

// patchSize writes the size of b[bodyAt:] as the LEB128 of width bytes
// reserved at b[at:bodyAt], moving the body if the size needs more bytes.
func patchSize(b []byte, at, bodyAt, width int) ([]byte, error) {
	size := len(b) - bodyAt
	if size > math.MaxUint32 {
		return nil, fmt.Errorf("%w: %d bytes", errNoInstrument, size)
	}
	enc := appendU32Width(nil, uint32(size), width)
	if len(enc) == width {
		copy(b[at:], enc)
		return b, nil
	}
	// Only when the original size was itself near a LEB128 boundary.
	grown := len(enc) - width
	b = append(b, make([]byte, grown)...)
	copy(b[bodyAt+grown:], b[bodyAt:len(b)-grown])
	copy(b[at:], enc)
	return b, nil
}
