package main

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// The worst-case mode builds, for given limits, the modules an attacker
// would send: functions of the most expensive kinds, each at the
// per-function limits, repeated until a whole-module limit (Instructions,
// Functions, Locals, the module's size) runs out, plus every module-level
// count at its limit. Each module is compiled with the interrupt checks
// inserted, as the host compiles it. A module of many copies of one
// function costs the sum of its functions, so where the full module would
// take minutes the mode measures 2, 4 and 8 copies, fits time and memory
// per copy, and extrapolates to the copies the limits admit.

// attack is one kind of expensive function.
type attack struct {
	name string
	// add adds one function of this kind, at the limits, to m and returns
	// its index; setup, if set, runs once per module first.
	add   func(m *module, l wasmbin.Limits) uint32
	setup func(m *module, l wasmbin.Limits)
	// sized attacks are too dear at the per-function limits for even one
	// copy to pass CompileCost: their function is built with
	// ControlPerFunction lowered until one does.
	sized bool
}

func ifChain(c code, n int) code {
	for range n {
		c = c.localGet(0).op(opIf, blockVoid).localGet(0).i32(1).op(opI32Add).localSet(0).op(opEnd)
	}
	return c
}

var attacks = []attack{
	{name: "br_if_chain", add: func(m *module, l wasmbin.Limits) uint32 {
		// The longest chain of basic blocks, each dominating the next:
		// wazero's loop-nesting and dominance walks are quadratic in it.
		c := code{}.op(opBlock, blockVoid)
		for range int(l.ControlPerFunction) - 1 {
			c = c.localGet(0).u(opBrIf, 0)
		}
		return m.addFunc(function{typ: 0, body: ret(c.op(opEnd))})
	}},
	{name: "nested_ifs", add: func(m *module, l wasmbin.Limits) uint32 {
		// As deep as BlockDepth allows, the rest of the control as br_ifs.
		d := int(min(l.BlockDepth-1, l.ControlPerFunction)) // the function's own block counts
		var c code
		for range d {
			c = c.localGet(0).op(opIf, blockVoid)
		}
		for range int(l.ControlPerFunction) - d {
			c = c.localGet(0).u(opBrIf, 0)
		}
		for range d {
			c = c.op(opEnd)
		}
		return m.addFunc(function{typ: 0, body: ret(c)})
	}},
	{name: "locals_across_ifs", sized: true, add: func(m *module, l wasmbin.Limits) uint32 {
		// Every local live across every if: a phi per local per merge
		// (LocalsPerFunction counts the param).
		n := int(l.LocalsPerFunction)
		var c code
		for k := 1; k < n; k++ {
			c = c.localGet(0).i32(int32(k)).op(opI32Add).localSet(uint32(k))
		}
		c = ifChain(c, int(l.ControlPerFunction))
		c = c.localGet(0)
		for k := 1; k < n; k++ {
			c = c.localGet(uint32(k)).op(opI32Add)
		}
		return m.addFunc(function{typ: 0, locals: []localDecl{{uint32(n - 1), i32}}, body: c.op(opEnd)})
	}},
	{name: "locals_across_loops", sized: true, add: func(m *module, l wasmbin.Limits) uint32 {
		// The same across loops (each gets a check), then ifs.
		n := int(l.LocalsPerFunction)
		loops := int(min(l.LoopsPerFunction, l.ControlPerFunction/2))
		var c code
		for k := 1; k < n; k++ {
			c = c.localGet(0).i32(int32(k)).op(opI32Add).localSet(uint32(k))
		}
		for range loops {
			c = c.op(opLoop, blockVoid).localGet(0).u(opBrIf, 0).op(opEnd)
		}
		c = ifChain(c, int(l.ControlPerFunction)-2*loops)
		c = c.localGet(0)
		for k := 1; k < n; k++ {
			c = c.localGet(uint32(k)).op(opI32Add)
		}
		return m.addFunc(function{typ: 0, locals: []localDecl{{uint32(n - 1), i32}}, body: c.op(opEnd)})
	}},
	{name: "stack_across_ifs", add: func(m *module, l wasmbin.Limits) uint32 {
		// StackHeight values live across every if: the register
		// allocator's live-in lists grow with their product.
		v := int(l.StackHeight) - 2
		var c code
		for k := range v {
			c = c.localGet(0).i32(int32(k)).op(opI32Xor)
		}
		c = ifChain(c, int(l.ControlPerFunction))
		for range v - 1 {
			c = c.op(opI32Add)
		}
		return m.addFunc(function{typ: 0, body: c.op(opEnd)})
	}},
	{name: "calls_x_globals", setup: func(m *module, l wasmbin.Limits) {
		for range l.MutableGlobals {
			m.globals = append(m.globals, global{typ: i32, mutable: true})
		}
		m.addFunc(function{typ: m.addType(typeNop), body: code{opEnd}}) // function 1
	}, add: func(m *module, l wasmbin.Limits) uint32 {
		// Every call reloads every mutable global.
		var c code
		for range int(l.InstructionsPerFunction) - 2 {
			c = c.call(1)
		}
		return m.addFunc(function{typ: 0, body: ret(c)})
	}},
	{name: "calls", setup: func(m *module, l wasmbin.Limits) {
		m.addFunc(function{typ: m.addType(typeNop), body: code{opEnd}}) // function 1
	}, add: func(m *module, l wasmbin.Limits) uint32 {
		// Straight calls, with only the checks' mutable globals.
		var c code
		for range int(l.InstructionsPerFunction) - 2 {
			c = c.call(1)
		}
		return m.addFunc(function{typ: 0, body: ret(c)})
	}},
	{name: "br_table_dispatch", add: func(m *module, l wasmbin.Limits) uint32 {
		// Go's dispatch: blocks nested as deep as the control allows,
		// one br_table to each.
		d := int(min(l.BlockDepth-1, l.ControlPerFunction/2))
		var c code
		for range d {
			c = c.op(opBlock, blockVoid)
		}
		c = c.localGet(0).u(opBrTable, uint64(d-1))
		for k := range d {
			c = appendULEB(c, uint64(k))
		}
		for range d {
			c = c.op(opEnd).localGet(0).i32(1).op(opI32Add).localSet(0)
		}
		return m.addFunc(function{typ: 0, body: ret(c)})
	}},
	{name: "live_values", add: func(m *module, l wasmbin.Limits) uint32 {
		// As many values live at once as StackHeight allows.
		v := int(l.StackHeight) - 2
		var c code
		for k := range v {
			c = c.localGet(0).i32(int32(k)).op(opI32Xor)
		}
		for range v - 1 {
			c = c.op(opI32Add)
		}
		return m.addFunc(function{typ: 0, body: c.op(opEnd)})
	}},
	{name: "tiny_funcs", add: func(m *module, l wasmbin.Limits) uint32 {
		// The most functions: each gets an entry check.
		return m.addFunc(function{typ: 0, body: ret(nil)})
	}},
}

// attackModule is a module with copies functions of kind a, after the
// function every module starts with.
func attackModule(a attack, l wasmbin.Limits, copies int) *module {
	m := oneFunc(nil, ret(nil))
	if a.setup != nil {
		a.setup(m, l)
	}
	for range copies {
		a.add(m, l)
	}
	return m
}

// admitted is how many copies of kind a, built at limits b, the limits l
// admit, from the figures of a module with one copy and one with two.
func admitted(a attack, b, l wasmbin.Limits) (int, error) {
	one, err := withCost(attackModule(a, b, 1).encode())
	if err != nil {
		return 0, err
	}
	if err := admits(attackModule(a, b, 1).encode(), l); err != nil {
		return 0, fmt.Errorf("%s: one copy: %w", a.name, err)
	}
	two, err := withCost(attackModule(a, b, 2).encode())
	if err != nil {
		return 0, err
	}
	per := func(f func(shape) float64) float64 { return f(two) - f(one) }
	room := func(limit float64, f func(shape) float64) float64 {
		if d := per(f); d > 0 {
			return math.Floor((limit - f(one)) / d)
		}
		return math.Inf(1)
	}
	n := math.Min(room(float64(l.Functions), func(s shape) float64 { return float64(s.Functions) }),
		room(float64(l.Instructions), func(s shape) float64 { return float64(s.Instructions) }))
	n = math.Min(n, room(float64(l.Locals), func(s shape) float64 { return float64(s.Locals) }))
	n = math.Min(n, room(moduleBytes, func(s shape) float64 { return float64(s.Bytes) }))
	n = math.Min(n, room(float64(l.CompileCost), func(s shape) float64 { return s.Cost }))
	// The figures grow by the same amount with each copy, but for the
	// estimate's rounding: check the module the host would be sent.
	copies := int(n) + 1
	for ; copies > 1; copies-- {
		err := admits(attackModule(a, b, copies).encode(), l)
		var le *wasmbin.LimitError
		if !errors.As(err, &le) {
			return copies, err
		}
	}
	return copies, nil
}

// worstRow is one kind's worst module.
type worstRow struct {
	Kind         string    `json:"kind"`
	FuncInstrs   int       `json:"instructions_per_function"`
	FuncBytes    int       `json:"bytes_per_function"`
	Copies       int       `json:"copies_admitted"`
	Measured     []jsPoint `json:"measured"` // n = copies
	CPUPerCopy   float64   `json:"cpu_s_per_copy"`
	RSSPerCopy   float64   `json:"rss_mib_per_copy"`
	CPUSec       float64   `json:"cpu_s"`   // at the copies admitted: measured, or extrapolated
	RSSMiB       float64   `json:"rss_mib"` // likewise
	Extrapolated bool      `json:"extrapolated"`
	// EstimatePerCopy is the estimate (wasmbin's CompileCost, with the
	// checks) for one more function.
	EstimatePerCopy float64 `json:"estimate_s_per_copy"`
}

// directCPU is the predicted compile CPU time past which a module is
// extrapolated from smaller ones instead of compiled.
const directCPU = 20.0

func worstMode(o options, stdout, stderr io.Writer) ([]worstRow, error) {
	l := proposed
	fmt.Fprintf(stdout, "Limits: %s\n\n", limitsString(l))
	fmt.Fprintln(stdout, "| kind | instructions per function | bytes per function | copies admitted | measured (copies: CPU s, RSS MiB) | CPU s per copy | estimate s per copy | compile CPU s | peak RSS MiB |")
	fmt.Fprintln(stdout, "|---|--:|--:|--:|---|--:|--:|--:|--:|")
	var rows []worstRow
	for _, a := range attacks {
		row, err := worstKind(a, l, o, stderr)
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
		var ms string
		for _, p := range row.Measured {
			ms += fmt.Sprintf("%d: %.2f, %.0f; ", p.N, p.CPUSec, p.MaxRSSMiB)
		}
		how := ""
		if row.Extrapolated {
			how = " (extrapolated)"
		}
		fmt.Fprintf(stdout, "| %s | %d | %d | %d | %s | %.3f | %.3f | %.1f%s | %.0f%s |\n", row.Kind, row.FuncInstrs, row.FuncBytes,
			row.Copies, ms, row.CPUPerCopy, row.EstimatePerCopy, row.CPUSec, how, row.RSSMiB, how)
	}
	comb, err := combined(l, o, stderr)
	if err != nil {
		return rows, err
	}
	rows = append(rows, comb)
	fmt.Fprintf(stdout, "\nEvery module-level count at its limit (types of ParamsResults params, imports, exports, globals, tables, segments, one br_table of BrTableTargets targets, one function %d deep, and as many declared locals as CompileCost admits), in one module of %d bytes: compile %.2f s CPU, peak RSS %.0f MiB.\n",
		l.BlockDepth, comb.FuncBytes, comb.CPUSec, comb.RSSMiB)
	return rows, nil
}

// sizedLimits returns l with ControlPerFunction lowered, for a sized
// attack, to the most at which one copy passes l: the limits its
// function is built with (the module is checked against l).
func sizedLimits(a attack, l wasmbin.Limits) (wasmbin.Limits, error) {
	if !a.sized {
		return l, nil
	}
	fits := func(control uint32) bool {
		b := l
		b.ControlPerFunction = control
		return admits(attackModule(a, b, 1).encode(), l) == nil
	}
	lo, hi := uint32(0), l.ControlPerFunction // fits(lo) or lo = 0
	if fits(hi) {
		return l, nil
	}
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return l, fmt.Errorf("%s: no size of it passes the limits", a.name)
	}
	b := l
	b.ControlPerFunction = lo
	return b, nil
}

func worstKind(a attack, limits wasmbin.Limits, o options, stderr io.Writer) (worstRow, error) {
	row := worstRow{Kind: a.name}
	l, err := sizedLimits(a, limits)
	if err != nil {
		return row, err
	}
	if a.sized {
		row.Kind += fmt.Sprintf(" (%d control)", l.ControlPerFunction)
	}
	copies, err := admitted(a, l, limits)
	if err != nil {
		return row, err
	}
	row.Copies = copies
	one, _ := withCost(attackModule(a, l, 1).encode())
	two, _ := withCost(attackModule(a, l, 2).encode())
	row.FuncInstrs = two.Instructions - one.Instructions
	row.FuncBytes = two.Bytes - one.Bytes
	row.EstimatePerCopy = (two.Cost - one.Cost) / 1e6
	run := func(n int) (result, error) {
		wasm, err := instrument(attackModule(a, l, n).encode())
		if err != nil {
			return result{}, err
		}
		r, err := measure(wasm, o.budget)
		if err != nil {
			return r, err
		}
		fmt.Fprintf(stderr, "worst %s copies=%d: %.3fs %0.fMiB %s %s\n", a.name, n, r.CPUSec, r.MaxRSSMiB, r.status(), r.Err)
		if r.failed() {
			return r, fmt.Errorf("worst %s copies=%d: %s %s", a.name, n, r.status(), r.Err)
		}
		row.Measured = append(row.Measured, jsPoint{n, r})
		return r, nil
	}
	// Compile the module the limits admit when it is predicted to take at
	// most directCPU; otherwise fit the cost per copy on smaller ones,
	// each of at most directCPU/2.
	r, err := run(1)
	if err != nil {
		return row, err
	}
	if copies > 1 {
		perCopy := r.CPUSec
		switch {
		case perCopy*float64(copies) <= directCPU:
			if copies > 4 {
				if _, err := run(copies / 4); err != nil {
					return row, err
				}
			}
			if _, err := run(copies); err != nil {
				return row, err
			}
		default:
			n := max(2, min(copies/2, int(directCPU/2/math.Max(perCopy, 1e-3))))
			if _, err := run(n); err != nil {
				return row, err
			}
		}
	}
	last := row.Measured[len(row.Measured)-1]
	if len(row.Measured) == 1 {
		row.CPUSec, row.RSSMiB = last.CPUSec, last.MaxRSSMiB
		row.CPUPerCopy = last.CPUSec / float64(copies)
		return row, nil
	}
	first := row.Measured[0]
	dn := float64(last.N - first.N)
	row.CPUPerCopy = (last.CPUSec - first.CPUSec) / dn
	row.RSSPerCopy = (last.MaxRSSMiB - first.MaxRSSMiB) / dn
	row.CPUSec = last.CPUSec + row.CPUPerCopy*float64(copies-last.N)
	row.RSSMiB = last.MaxRSSMiB + math.Max(0, row.RSSPerCopy)*float64(copies-last.N)
	row.Extrapolated = last.N != copies
	return row, nil
}

// combined measures one module with every module-level count at its limit.
func combined(l wasmbin.Limits, o options, stderr io.Writer) (worstRow, error) {
	m := oneFunc(nil, ret(nil))
	wide := funcType{params: make([]byte, l.ParamsResults)}
	for i := range wide.params {
		wide.params[i] = i32
	}
	for len(m.types) < int(l.Types) {
		m.types = append(m.types, wide)
	}
	for i := len(m.imports); i < int(l.Imports); i++ {
		m.imports = append(m.imports, importFunc{module: "env", name: fmt.Sprintf("f%d", i), typ: 1})
	}
	// Imports shift the function index space: the first defined function
	// is now at index Imports.
	first := uint32(len(m.imports))
	m.exports[0].index = first
	for i := 1; i < int(l.Exports); i++ {
		m.exports = append(m.exports, export{name: fmt.Sprintf("e%d", i), kind: 0, index: first})
	}
	for range l.MutableGlobals {
		m.globals = append(m.globals, global{typ: i32, mutable: true})
	}
	for len(m.globals) < int(l.Globals) {
		m.globals = append(m.globals, global{typ: i64})
	}
	size := uint32(min(l.TableSize, 1<<20))
	m.table = &size
	for i := range l.ElementSegments {
		m.elems = append(m.elems, elemSegment{offset: int32(i % size), funcs: []uint32{first}})
	}
	*m.memory = uint32(l.DataSegments/65536 + 1)
	for i := range l.DataSegments {
		m.datas = append(m.datas, dataSegment{offset: int32(i), bytes: []byte{byte(i)}})
	}
	// One br_table at its limit, one function at the depth limit, and the
	// rest of the module's locals in functions at the per-function limit.
	targets := min(l.BrTableTargets, l.ControlPerFunction-1) // the block counts too
	bt := code{}.op(opBlock, blockVoid).localGet(0).u(opBrTable, uint64(targets-1))
	for range targets {
		bt = bt.op(0)
	}
	m.addFunc(function{typ: 0, body: ret(bt.op(opEnd))})
	var deep code
	for range l.BlockDepth - 1 { // the function's own block counts
		deep = deep.op(opBlock, blockVoid)
	}
	for range l.BlockDepth - 1 {
		deep = deep.op(opEnd)
	}
	m.addFunc(function{typ: 0, body: ret(deep)})
	// The locals cost 1.5 µs each in the estimate: as many functions of
	// them as Locals and CompileCost admit.
	perFunction := uint64(l.LocalsPerFunction) - 1 // and the param
	withLocals := func(k uint64) []byte {
		c := *m
		c.funcs = append([]function(nil), m.funcs...)
		for range k {
			c.addFunc(function{typ: 0, locals: []localDecl{{uint32(perFunction), i32}}, body: ret(nil)})
		}
		return c.encode()
	}
	lo, hi := uint64(0), l.Locals/perFunction+1 // withLocals(lo) passes, or lo = 0
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; admits(withLocals(mid), l) == nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	raw := withLocals(lo)
	if err := admits(raw, l); err != nil {
		return worstRow{}, fmt.Errorf("combined module: %w", err)
	}
	wasm, err := instrument(raw)
	if err != nil {
		return worstRow{}, err
	}
	r, err := measure(wasm, o.budget)
	if err != nil {
		return worstRow{}, err
	}
	fmt.Fprintf(stderr, "worst combined: %.3fs %.0fMiB %s %s\n", r.CPUSec, r.MaxRSSMiB, r.status(), r.Err)
	if r.failed() {
		return worstRow{}, fmt.Errorf("combined: %s %s", r.status(), r.Err)
	}
	return worstRow{Kind: "module-level counts", FuncBytes: len(raw), Copies: 1, Measured: []jsPoint{{1, r}},
		CPUSec: r.CPUSec, RSSMiB: r.MaxRSSMiB}, nil
}
