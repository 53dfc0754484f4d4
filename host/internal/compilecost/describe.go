package main

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/wasmreg/wasmreg/host/internal/interrupt"
	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// The program reads modules with the host's own strict reader, wasmbin
// (which also computes the compile-cost estimate that the host's
// CompileCost limit bounds), and inserts the interrupt checks with the
// host's own rewrite, interrupt.Instrument: what it measures is what the
// host compiles.

// noLimits decodes any module the generators write, however far past the
// host's limits.
var noLimits = wasmbin.Limits{}

// shape is what the structural limits bound, for one module.
type shape struct {
	Bytes              int
	Types              int
	Imports            int
	Functions          int // defined
	Globals            int // defined
	Exports            int
	Tables             int // imported and defined
	ElementSegments    int
	DataSegments       int
	ParamsResults      int    // most params or results of one type
	TableSize          uint64 // largest declared minimum
	LocalsPerFunction  uint64
	FunctionBodyBytes  int
	MaxInstructions    int // per function
	Instructions       int // whole module
	LoopsPerFunction   int
	BlockDepth         int // the function's own block counted, as in Limits.BlockDepth
	BrTableTargets     int
	ControlPerFunction int     // most Code.Control of one function
	StackHeight        int     // most Code.MaxHeight of one function
	Control            int     // whole module
	Locals             uint64  // whole module, declared
	Calls              int     // whole module: call and call_indirect, each reloads every mutable global
	MutableGlobals     int     // imported and defined
	Cost               float64 // CompileCost, in microseconds
}

// parse decodes wasm with wasmbin, without limits, and describes it.
func parse(wasm []byte) (*wasmbin.Module, shape, error) {
	m, err := wasmbin.Decode(wasm, noLimits)
	if err != nil {
		return nil, shape{Bytes: len(wasm)}, err
	}
	return m, describe(m), nil
}

// describe is m's shape.
func describe(m *wasmbin.Module) shape {
	sh := shape{
		Bytes: len(m.Bytes), Types: len(m.Types), Imports: len(m.Imports), Functions: len(m.Functions),
		Globals: len(m.Globals), Exports: len(m.Exports), Tables: int(m.NumTables()),
		ElementSegments: len(m.Elements), DataSegments: len(m.Data), Cost: float64(m.CompileCost()),
	}
	for _, t := range m.Types {
		sh.ParamsResults = max(sh.ParamsResults, len(t.Params), len(t.Results))
	}
	for _, imp := range m.Imports {
		switch {
		case imp.Kind == wasmbin.KindTable:
			sh.TableSize = max(sh.TableSize, uint64(imp.Table.Min))
		case imp.Kind == wasmbin.KindGlobal && imp.Global.Mutable:
			sh.MutableGlobals++
		}
	}
	for _, t := range m.Tables {
		sh.TableSize = max(sh.TableSize, uint64(t.Min))
	}
	for _, g := range m.Globals {
		if g.Type.Mutable {
			sh.MutableGlobals++
		}
	}
	for i := range m.Code {
		c := &m.Code[i]
		sh.LocalsPerFunction = max(sh.LocalsPerFunction, uint64(c.NumLocals))
		sh.FunctionBodyBytes = max(sh.FunctionBodyBytes, len(c.Body))
		sh.MaxInstructions = max(sh.MaxInstructions, int(c.Instructions))
		sh.Instructions += int(c.Instructions)
		sh.LoopsPerFunction = max(sh.LoopsPerFunction, int(c.Loops))
		sh.BlockDepth = max(sh.BlockDepth, int(c.MaxDepth))
		sh.ControlPerFunction = max(sh.ControlPerFunction, int(c.Control))
		sh.StackHeight = max(sh.StackHeight, int(c.MaxHeight))
		sh.Control += int(c.Control)
		sh.Locals += uint64(c.NumLocals)
		sh.Calls += int(c.Calls)
		if c.BrTargets > 0 {
			r := m.Instructions(i)
			for r.Next() {
				if in := r.Instr(); in.Op == wasmbin.OpBrTable {
					sh.BrTableTargets = max(sh.BrTableTargets, int(in.Targets))
				}
			}
		}
	}
	return sh
}

// instrument returns wasm with the interrupt checks the host inserts, with
// the rewrite's default options (the host changes only the stack and table
// limits, which change no code's shape).
func instrument(wasm []byte) ([]byte, error) {
	m, err := wasmbin.Decode(wasm, noLimits)
	if err != nil {
		return nil, err
	}
	out, _, err := interrupt.Instrument(m, interrupt.Options{})
	return out, err
}

// withCost returns the shape of wasm, with Cost the estimate for wasm with
// the interrupt checks inserted, as the host compiles it.
func withCost(wasm []byte) (shape, error) {
	_, sh, err := parse(wasm)
	if err != nil {
		return sh, err
	}
	checked, err := instrument(wasm)
	if err != nil {
		return sh, err
	}
	_, c, err := parse(checked)
	sh.Cost = c.Cost
	return sh, err
}

// moduleCost is the estimate for wasm as it is, in microseconds.
func moduleCost(wasm []byte) (float64, error) {
	_, sh, err := parse(wasm)
	return sh.Cost, err
}

// broken returns the limits of lim that wasm breaks, by name: each field
// alone (Decode stops at the first limit a module breaks). CompileCost is
// checked on wasm with the interrupt checks, as the host checks it.
func broken(wasm []byte, lim wasmbin.Limits) ([]string, error) {
	var out []string
	v := reflect.ValueOf(lim)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if v.Field(i).IsZero() {
			continue
		}
		var one wasmbin.Limits
		reflect.ValueOf(&one).Elem().Field(i).Set(v.Field(i))
		_, err := wasmbin.Decode(wasm, one)
		if name == "CompileCost" && err == nil {
			// The module as the host compiles it, if the rewrite takes it.
			if checked, ierr := instrument(wasm); ierr == nil {
				_, err = wasmbin.Decode(checked, one)
			}
		}
		var le *wasmbin.LimitError
		switch {
		case errors.As(err, &le) && le.Limit == name:
			out = append(out, name)
		case err != nil:
			return nil, fmt.Errorf("%s alone: %w", name, err)
		}
	}
	return out, nil
}

// limitsString writes every field of l.
func limitsString(l wasmbin.Limits) string {
	var b strings.Builder
	v := reflect.ValueOf(l)
	for i := range v.NumField() {
		fmt.Fprintf(&b, "%s=%v ", v.Type().Field(i).Name, v.Field(i).Interface())
	}
	return strings.TrimSpace(b.String())
}
