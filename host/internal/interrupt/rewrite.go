package interrupt

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// Instrument returns m's module rewritten with the checks and limits the
// package comment describes, and what it added. m must come from
// wasmbin.Decode (which checked every index against the module as written,
// so that no code can name what the rewrite appends). Refusals are *Error,
// wrapping ErrNotInstrumentable or ErrTableLimit; bad options wrap
// ErrInvalidOptions; a body that does not read back as Decode read it
// (never, for a Module of Decode's) wraps ErrNotInstrumentable.
func Instrument(m *wasmbin.Module, opts Options) ([]byte, *Plan, error) {
	opts, err := opts.resolve()
	if err != nil {
		return nil, nil, err
	}
	if err := checkExports(m, opts.HostPrefixes); err != nil {
		return nil, nil, err
	}
	tables, err := limitedTables(m, opts.TableLimit)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range []struct {
		what string
		n    uint64
	}{
		{"globals", uint64(m.NumGlobals()) + 4},
		{"tables", uint64(m.NumTables()) + 1},
		{"functions", uint64(m.NumFuncs()) + 1},
		{"types", uint64(len(m.Types)) + uint64(len(m.Code)) + 1},
	} {
		if n.n > math.MaxInt32 {
			return nil, nil, refuse(ErrNotInstrumentable, "module", "%d %s with those the rewrite adds", n.n, n.what)
		}
	}

	w := &writer{m: m, opts: opts, plan: &Plan{StopGlobal: StopGlobal, StackGlobal: StackGlobal, Options: opts}}
	w.x = indices{
		stop:   m.NumGlobals(),
		fuel:   m.NumGlobals() + 1,
		stack:  m.NumGlobals() + 2,
		yields: m.NumGlobals() + 3,
		yield:  m.NumTables(),
		slow:   m.NumFuncs(),
	}
	w.typeIndex = map[string]uint32{}
	for i, t := range m.Types {
		if len(t.Params) == 0 {
			if _, ok := w.typeIndex[string(valTypes(t.Results))]; !ok {
				w.typeIndex[string(valTypes(t.Results))] = uint32(i)
			}
		}
	}
	w.slowType = w.resultsType(nil)
	code, err := w.code()
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, nil, err
		}
		// Not reached for a Module of Decode's: its bodies read back.
		return nil, nil, fmt.Errorf("interrupt: %w: %w", ErrNotInstrumentable, err)
	}

	exports := []wasmbin.Export{
		{Name: StopGlobal, Kind: wasmbin.KindGlobal, Index: w.x.stop},
		{Name: StackGlobal, Kind: wasmbin.KindGlobal, Index: w.x.stack},
	}
	if m.HasStart {
		w.plan.Start = StartExport
		exports = append(exports, wasmbin.Export{Name: StartExport, Kind: wasmbin.KindFunc, Index: m.Start})
	}

	globals := make([]byte, 0, 24)
	for _, v := range []int32{0, int32(opts.Period), int32(opts.StackLimit)} { // $stop, $fuel, $stack
		globals = append(globals, byte(wasmbin.I32), 1)
		globals = append(i32Const(globals, v), opEnd)
	}
	nGlobals := uint32(3)
	if opts.countYields {
		globals = append(globals, byte(wasmbin.I64), 1, 0x42, 0, opEnd)
		exports = append(exports, wasmbin.Export{Name: yieldsGlobal, Kind: wasmbin.KindGlobal, Index: w.x.yields})
		nGlobals++
	}
	tables = append(tables, byte(wasmbin.FuncRef), 1, 0, 0) // $yield: (table 0 0 funcref)

	s := sections{m: m}
	s.extend(wasmbin.SecType, w.nNewTypes, w.newTypes)
	s.extend(wasmbin.SecFunction, 1, wasmbin.AppendU32(nil, w.slowType))
	s.replace(wasmbin.SecTable, wasmbin.AppendU32(nil, uint32(len(m.Tables))+1), tables)
	s.extend(wasmbin.SecGlobal, nGlobals, globals)
	s.extend(wasmbin.SecExport, uint32(len(exports)), appendExports(nil, exports))
	s.drop(wasmbin.SecStart)
	s.replace(wasmbin.SecCode, nil, code)
	s.dropDebug = true
	return s.emit(), w.plan, nil
}

// LimitTables returns m's module with each table's maximum lowered to
// limit, so that table.grow past it returns -1, for a host that runs the
// module without Instrument's checks. It refuses, with an *Error wrapping
// ErrTableLimit, a table whose declared minimum is over limit, and, with
// one wrapping ErrNotInstrumentable, an imported table, whose size the
// module does not decide. Every other section is kept byte for byte; a
// module without tables is returned as it is (m.Bytes).
func LimitTables(m *wasmbin.Module, limit uint32) ([]byte, error) {
	if limit == 0 {
		limit = DefaultTableLimit
	}
	if limit > MaxTableLimit {
		return nil, fmt.Errorf("%w: table limit %d is over %d", ErrInvalidOptions, limit, MaxTableLimit)
	}
	tables, err := limitedTables(m, limit)
	if err != nil {
		return nil, err
	}
	if m.Section(wasmbin.SecTable) == nil {
		return m.Bytes, nil
	}
	s := sections{m: m}
	s.replace(wasmbin.SecTable, wasmbin.AppendU32(nil, uint32(len(m.Tables))), tables)
	return s.emit(), nil
}

// checkExports refuses an export name the host reserves.
func checkExports(m *wasmbin.Module, hostPrefixes []string) error {
	for i, e := range m.Exports {
		if !strings.HasPrefix(e.Name, ReservedPrefix) {
			continue
		}
		ok := false
		for _, p := range hostPrefixes {
			ok = ok || strings.HasPrefix(e.Name, p)
		}
		if !ok || e.Name == StopGlobal || e.Name == StackGlobal || e.Name == StartExport {
			return refuse(ErrNotInstrumentable, fmt.Sprintf("export[%d] %q", i, e.Name),
				"names beginning with %q are reserved for the host (docs/ABI.md)", ReservedPrefix)
		}
	}
	return nil
}

// limitedTables returns the entries of the table section with each
// maximum at most limit.
func limitedTables(m *wasmbin.Module, limit uint32) ([]byte, error) {
	for i, imp := range m.Imports {
		if imp.Kind == wasmbin.KindTable {
			return nil, refuse(ErrNotInstrumentable, fmt.Sprintf("import[%d] %q %q", i, imp.Module, imp.Name),
				"a factory may not import a table: the host could not bound its size")
		}
	}
	var b []byte
	for i, t := range m.Tables {
		if t.Min > limit {
			return nil, refuse(ErrTableLimit, fmt.Sprintf("table[%d]", m.ImportedTables+uint32(i)),
				"declares %d entries at least, over the table limit of %d", t.Min, limit)
		}
		max := limit
		if t.HasMax && t.Max < limit {
			max = t.Max
		}
		b = append(b, byte(t.Elem), 1)
		b = wasmbin.AppendU32(b, t.Min)
		b = wasmbin.AppendU32(b, max)
	}
	return b, nil
}

func valTypes(ts []wasmbin.ValType) []byte {
	b := make([]byte, len(ts))
	for i, t := range ts {
		b[i] = byte(t)
	}
	return b
}

func appendExports(b []byte, exports []wasmbin.Export) []byte {
	for _, e := range exports {
		b = wasmbin.AppendName(b, e.Name)
		b = append(b, byte(e.Kind))
		b = wasmbin.AppendU32(b, e.Index)
	}
	return b
}

// writer rewrites the code section.
type writer struct {
	m         *wasmbin.Module
	opts      Options
	plan      *Plan
	x         indices
	typeIndex map[string]uint32 // [] -> results types, by their results' bytes
	newTypes  []byte            // entries appended to the type section
	nNewTypes uint32
	slowType  uint32
}

// resultsType returns the index of a type [] -> results, appending one if
// the module has none.
func (w *writer) resultsType(results []wasmbin.ValType) uint32 {
	key := string(valTypes(results))
	if i, ok := w.typeIndex[key]; ok {
		return i
	}
	i := uint32(len(w.m.Types)) + w.nNewTypes
	w.nNewTypes++
	w.newTypes = append(w.newTypes, 0x60, 0)
	w.newTypes = wasmbin.AppendU32(w.newTypes, uint32(len(results)))
	w.newTypes = append(w.newTypes, key...)
	w.typeIndex[key] = i
	return i
}

// code returns the code section's payload: every body rewritten, then $slow.
func (w *writer) code() ([]byte, error) {
	m := w.m
	a := newAnalyzer(m, w.opts)
	out := make([]byte, 0, len(m.Bytes)+len(m.Bytes)/4+64)
	out = wasmbin.AppendU32(out, uint32(len(m.Code))+1)
	var body []byte
	loops := 0
	for i := range m.Code {
		p, err := a.analyze(i)
		if err != nil {
			return nil, err
		}
		if body, err = w.body(body[:0], i, p); err != nil {
			return nil, err
		}
		out = wasmbin.AppendU32(out, uint32(len(body)))
		out = append(out, body...)
		w.plan.Functions++
		w.plan.Loops += p.loops
		w.plan.Bulk += p.bulk
		w.plan.Checkpoints += p.checkpoints
		w.plan.MaxFrame = max(w.plan.MaxFrame, p.stack)
		loops += int(m.Code[i].Loops)
	}
	if loops != w.plan.Loops {
		return nil, fmt.Errorf("interrupt: found %d loops where Decode counted %d: %w", w.plan.Loops, loops, wasmbin.ErrMalformed)
	}
	slow := w.x.slowBody(nil, w.opts.Period, w.opts.countYields)
	out = wasmbin.AppendU32(out, uint32(len(slow)))
	return append(out, slow...), nil
}

// body appends defined function i's body rewritten after plan p:
//
//	locals, and $saved, and $scratch if a bulk operation needs it
//	entry check
//	block (result ...)     ;; the wrapper, of the function's results
//	  the body, each return a br to the wrapper, with its checks
//	end                    ;; the body's own final end
//	local.get $saved       ;; every exit passes here: fall-through, br to the function's label, return
//	global.set $stack
//	end
//
// A branch to the function's own label (depth Depth-1) now lands on the
// wrapper, whose label is at that same depth, and so passes the restore:
// only return needs rewriting. Traps need no restore: a trapped instance
// is never called again. CoreFeaturesV2 has no other exits (no tail
// calls, no exceptions).
func (w *writer) body(b []byte, i int, p *funcPlan) ([]byte, error) {
	m := w.m
	code := &m.Code[i]
	ft := m.Types[m.Functions[i]]
	fn := m.ImportedFuncs + uint32(i)

	// Locals: the module's, then $saved (the stack budget at entry, which
	// every exit restores) and, if a bulk operation needs it, $scratch.
	n, width, ok := readU32(code.Body)
	if !ok || width > code.Expr {
		return nil, fmt.Errorf("function[%d]: locals: %w", fn, wasmbin.ErrMalformed)
	}
	// Two locals are appended: their indices must fit a u32 (the strict
	// reader's limits keep real modules far below; a Module decoded
	// without limits may not be).
	if uint64(len(ft.Params))+uint64(code.NumLocals)+2 > math.MaxUint32 {
		return nil, refuse(ErrNotInstrumentable, fmt.Sprintf("function[%d]", fn), "%d params and %d locals leave no index for the rewrite's own", len(ft.Params), code.NumLocals)
	}
	saved := uint32(len(ft.Params)) + code.NumLocals
	scratch := saved + 1
	added := uint32(1)
	if p.scratch {
		added++
	}
	if uint64(saved)+uint64(added) > math.MaxUint32 || n == math.MaxUint32 {
		return nil, refuse(ErrNotInstrumentable, fmt.Sprintf("function[%d]", fn), "no room for more locals")
	}
	b = wasmbin.AppendU32(b, n+1)
	b = append(b, code.Body[width:code.Expr]...)
	b = append(b, byte(added), byte(wasmbin.I32))

	b = w.x.entryCheck(b, p.entry, p.stack, saved)
	b = append(b, byte(wasmbin.OpBlock))
	switch len(ft.Results) {
	case 0:
		b = append(b, blockEmpty)
	case 1:
		b = append(b, byte(ft.Results[0]))
	default:
		b = wasmbin.AppendS64(b, int64(w.resultsType(ft.Results)))
	}

	body := code.Body
	copied := code.Expr // body[copied:] is still to copy
	r := m.Instructions(i)
	j := 0
	for r.Next() {
		in := r.Instr()
		if j >= len(p.nodes) {
			return nil, fmt.Errorf("function[%d]: more instructions than analysed: %w", fn, wasmbin.ErrMalformed)
		}
		nd := &p.nodes[j]
		j++
		if nd.kind != kLoop && nd.charge != 0 { // a checkpoint
			b = append(b, body[copied:in.Start]...)
			b = w.x.loopCheck(b, nd.charge)
			copied = in.Start
		}
		switch nd.kind {
		case kLoop:
			b = append(b, body[copied:in.End]...)
			b = w.x.loopCheck(b, nd.charge)
			copied = in.End
		case kReturn:
			b = append(b, body[copied:in.Start]...)
			b = wasmbin.AppendU32(append(b, opBr), in.Depth-1)
			copied = in.End
		case kBulk:
			b = append(b, body[copied:in.Start]...)
			b = w.x.bulkCheck(b, scratch, nd.sub == 1)
			copied = in.Start
		}
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("function[%d]: %w", fn, err)
	}
	if j != len(p.nodes) {
		return nil, fmt.Errorf("function[%d]: fewer instructions than analysed: %w", fn, wasmbin.ErrMalformed)
	}
	b = append(b, body[copied:]...) // up to the final end, which closes the wrapper
	b = w.x.restore(b, saved)
	return append(b, opEnd), nil
}

// sections emits a module from m's sections, some replaced, extended,
// added or dropped.
type sections struct {
	m         *wasmbin.Module
	changes   []change
	dropDebug bool
}

type change struct {
	id      wasmbin.SectionID
	drop    bool
	replace bool   // payload is head+items, instead of the original
	head    []byte // replace: the new count, if any
	count   uint32 // extend: items added
	items   []byte
}

// extend appends count entries, items, to the vector section id, adding
// the section if the module lacks it.
func (s *sections) extend(id wasmbin.SectionID, count uint32, items []byte) {
	if count > 0 {
		s.changes = append(s.changes, change{id: id, count: count, items: items})
	}
}

// replace makes the payload of section id head followed by items.
func (s *sections) replace(id wasmbin.SectionID, head, items []byte) {
	s.changes = append(s.changes, change{id: id, replace: true, head: head, items: items})
}

func (s *sections) drop(id wasmbin.SectionID) {
	s.changes = append(s.changes, change{id: id, drop: true})
}

// rank orders the non-custom sections as the binary format requires (the
// data count section comes before the code section).
func rank(id wasmbin.SectionID) int {
	switch id {
	case wasmbin.SecDataCount:
		return int(wasmbin.SecElement) + 1
	case wasmbin.SecCode, wasmbin.SecData:
		return int(id) + 1
	}
	return int(id)
}

func (s *sections) find(id wasmbin.SectionID) *change {
	for i := range s.changes {
		if s.changes[i].id == id {
			return &s.changes[i]
		}
	}
	return nil
}

func (c *change) payload(orig []byte) []byte {
	if c.replace {
		return append(append([]byte(nil), c.head...), c.items...)
	}
	if orig == nil {
		return append(wasmbin.AppendU32(nil, c.count), c.items...)
	}
	n, width, _ := readU32(orig) // Decode read it
	b := make([]byte, 0, len(orig)+len(c.items)+5)
	b = wasmbin.AppendU32(b, n+c.count)
	b = append(b, orig[width:]...)
	return append(b, c.items...)
}

func (s *sections) emit() []byte {
	m := s.m
	out := make([]byte, 0, len(m.Bytes)+1024)
	out = append(out, m.Bytes[:8]...)
	done := map[wasmbin.SectionID]bool{}
	// addMissing emits the added sections that rank before r.
	addMissing := func(r int) {
		for id := wasmbin.SecType; id <= wasmbin.SecDataCount; id++ {
			c := s.find(id)
			if c == nil || c.drop || done[id] || rank(id) >= r || m.Section(id) != nil {
				continue
			}
			done[id] = true
			out = wasmbin.AppendSection(out, id, c.payload(nil))
		}
	}
	for i := range m.Sections {
		sec := &m.Sections[i]
		raw := m.Bytes[sec.Offset:sec.End()]
		if sec.ID == wasmbin.SecCustom {
			if !s.dropDebug || !strings.HasPrefix(sec.Name, ".debug_") {
				out = append(out, raw...)
			}
			continue
		}
		addMissing(rank(sec.ID))
		c := s.find(sec.ID)
		switch {
		case c == nil:
			out = append(out, raw...)
		case c.drop:
		default:
			done[sec.ID] = true
			out = wasmbin.AppendSection(out, sec.ID, c.payload(sec.Payload))
		}
	}
	addMissing(math.MaxInt)
	return out
}
