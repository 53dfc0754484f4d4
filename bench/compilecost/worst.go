package main

import (
	"errors"
	"fmt"
	"io"
	"math"
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
	add   func(m *module, l limits) uint32
	setup func(m *module, l limits)
}

func ifChain(c code, n int) code {
	for range n {
		c = c.localGet(0).op(opIf, blockVoid).localGet(0).i32(1).op(opI32Add).localSet(0).op(opEnd)
	}
	return c
}

var attacks = []attack{
	{name: "br_if_chain", add: func(m *module, l limits) uint32 {
		// The longest chain of basic blocks, each dominating the next:
		// wazero's loop-nesting and dominance walks are quadratic in it.
		c := code{}.op(opBlock, blockVoid)
		for range l.ControlPerFunction - 1 {
			c = c.localGet(0).u(opBrIf, 0)
		}
		return m.addFunc(function{typ: 0, body: ret(c.op(opEnd))})
	}},
	{name: "nested_ifs", add: func(m *module, l limits) uint32 {
		// As deep as BlockDepth allows, the rest of the control as br_ifs.
		d := min(l.BlockDepth, l.ControlPerFunction)
		var c code
		for range d {
			c = c.localGet(0).op(opIf, blockVoid)
		}
		for range l.ControlPerFunction - d {
			c = c.localGet(0).u(opBrIf, 0)
		}
		for range d {
			c = c.op(opEnd)
		}
		return m.addFunc(function{typ: 0, body: ret(c)})
	}},
	{name: "locals_across_ifs", add: func(m *module, l limits) uint32 {
		// Every local live across every if: a phi per local per merge.
		n := int(l.LocalsPerFunction)
		var c code
		for k := 1; k < n; k++ {
			c = c.localGet(0).i32(int32(k)).op(opI32Add).localSet(uint32(k))
		}
		c = ifChain(c, l.ControlPerFunction)
		c = c.localGet(0)
		for k := 1; k < n; k++ {
			c = c.localGet(uint32(k)).op(opI32Add)
		}
		return m.addFunc(function{typ: 0, locals: []localDecl{{uint32(n - 1), i32}}, body: c.op(opEnd)})
	}},
	{name: "locals_across_loops", add: func(m *module, l limits) uint32 {
		// The same across loops (each gets a check), then ifs.
		n := int(l.LocalsPerFunction)
		loops := min(l.LoopsPerFunction, l.ControlPerFunction)
		var c code
		for k := 1; k < n; k++ {
			c = c.localGet(0).i32(int32(k)).op(opI32Add).localSet(uint32(k))
		}
		for range loops {
			c = c.op(opLoop, blockVoid).localGet(0).u(opBrIf, 0).op(opEnd)
		}
		c = ifChain(c, l.ControlPerFunction-2*loops)
		c = c.localGet(0)
		for k := 1; k < n; k++ {
			c = c.localGet(uint32(k)).op(opI32Add)
		}
		return m.addFunc(function{typ: 0, locals: []localDecl{{uint32(n - 1), i32}}, body: c.op(opEnd)})
	}},
	{name: "stack_across_ifs", add: func(m *module, l limits) uint32 {
		// StackHeight values live across every if: the register
		// allocator's live-in lists grow with their product.
		v := l.StackHeight - 2
		var c code
		for k := range v {
			c = c.localGet(0).i32(int32(k)).op(opI32Xor)
		}
		c = ifChain(c, l.ControlPerFunction)
		for range v - 1 {
			c = c.op(opI32Add)
		}
		return m.addFunc(function{typ: 0, body: c.op(opEnd)})
	}},
	{name: "calls_x_globals", setup: func(m *module, l limits) {
		for range l.MutableGlobals {
			m.globals = append(m.globals, global{typ: i32, mutable: true})
		}
		m.addFunc(function{typ: m.addType(typeNop), body: code{opEnd}}) // function 1
	}, add: func(m *module, l limits) uint32 {
		// Every call reloads every mutable global.
		var c code
		for range l.InstructionsPerFunction - 2 {
			c = c.call(1)
		}
		return m.addFunc(function{typ: 0, body: ret(c)})
	}},
	{name: "tiny_funcs", add: func(m *module, l limits) uint32 {
		// The most functions: each gets an entry check.
		return m.addFunc(function{typ: 0, body: ret(nil)})
	}},
}

// attackModule is a module with copies functions of kind a, after the
// function every module starts with.
func attackModule(a attack, l limits, copies int) *module {
	m := oneFunc(nil, ret(nil))
	if a.setup != nil {
		a.setup(m, l)
	}
	for range copies {
		a.add(m, l)
	}
	return m
}

// admitted is how many copies of kind a the whole-module limits admit,
// from the figures of a module with one copy and one with two.
func admitted(a attack, l limits) (int, error) {
	one, err := withCost(attackModule(a, l, 1).encode())
	if err != nil {
		return 0, err
	}
	two, err := withCost(attackModule(a, l, 2).encode())
	if err != nil {
		return 0, err
	}
	if broken := l.check(two); len(broken) > 0 {
		return 0, fmt.Errorf("%s breaks the limits it was built for: %v", a.name, broken)
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
	n = math.Min(n, room(float64(l.ModuleBytes), func(s shape) float64 { return float64(s.Bytes) }))
	n = math.Min(n, room(float64(l.CompileCost), func(s shape) float64 { return s.Cost }))
	return int(n) + 1, nil
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
	// EstimatePerCopy is cost.go's estimate for one more function.
	EstimatePerCopy float64 `json:"estimate_s_per_copy"`
}

// directCPU is the predicted compile CPU time past which a module is
// extrapolated from smaller ones instead of compiled.
const directCPU = 20.0

func worstMode(o options, stdout, stderr io.Writer) ([]worstRow, error) {
	l := proposed
	fmt.Fprintf(stdout, "Limits: %s\n\n", l)
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
	fmt.Fprintf(stdout, "\nEvery module-level count at its limit (types of ParamsResults params, imports, exports, globals, tables, segments, declared locals, one br_table of BrTableTargets targets, one function %d deep), in one module of %d bytes: compile %.2f s CPU, peak RSS %.0f MiB.\n",
		l.BlockDepth, comb.FuncBytes, comb.CPUSec, comb.RSSMiB)
	return rows, nil
}

func worstKind(a attack, l limits, o options, stderr io.Writer) (worstRow, error) {
	row := worstRow{Kind: a.name}
	copies, err := admitted(a, l)
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
func combined(l limits, o options, stderr io.Writer) (worstRow, error) {
	m := oneFunc(nil, ret(nil))
	wide := funcType{params: make([]byte, l.ParamsResults)}
	for i := range wide.params {
		wide.params[i] = i32
	}
	for len(m.types) < l.Types {
		m.types = append(m.types, wide)
	}
	for i := len(m.imports); i < l.Imports; i++ {
		m.imports = append(m.imports, importFunc{module: "env", name: fmt.Sprintf("f%d", i), typ: 1})
	}
	// Imports shift the function index space: the first defined function
	// is now at index Imports.
	first := uint32(len(m.imports))
	m.exports[0].index = first
	for i := 1; i < l.Exports; i++ {
		m.exports = append(m.exports, export{name: fmt.Sprintf("e%d", i), kind: 0, index: first})
	}
	for range l.MutableGlobals {
		m.globals = append(m.globals, global{typ: i32, mutable: true})
	}
	for len(m.globals) < l.Globals {
		m.globals = append(m.globals, global{typ: i64})
	}
	size := uint32(min(l.TableSize, 1<<20))
	m.table = &size
	for i := range l.ElementSegments {
		m.elems = append(m.elems, elemSegment{offset: int32(i % int(size)), funcs: []uint32{first}})
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
	for range l.BlockDepth {
		deep = deep.op(opBlock, blockVoid)
	}
	for range l.BlockDepth {
		deep = deep.op(opEnd)
	}
	m.addFunc(function{typ: 0, body: ret(deep)})
	for left := l.Locals; left >= l.LocalsPerFunction; left -= l.LocalsPerFunction {
		m.addFunc(function{typ: 0, locals: []localDecl{{uint32(l.LocalsPerFunction), i32}}, body: ret(nil)})
	}
	raw := m.encode()
	sh, err := withCost(raw)
	if err != nil {
		return worstRow{}, err
	}
	if broken := l.check(sh); len(broken) > 0 {
		return worstRow{}, errors.New("combined module breaks its limits: " + fmt.Sprint(broken))
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
