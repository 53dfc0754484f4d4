package main

import (
	"fmt"
	"reflect"
	"strings"
)

// limits mirrors the host's structural limits (the strict reader's Limits)
// plus the ones these measurements add (ControlPerFunction, StackHeight,
// MutableGlobals, Locals). The worst-case mode builds the worst module they
// admit; check tells which a module breaks.
type limits struct {
	Types                   int
	Functions               int
	Imports                 int
	Exports                 int
	Globals                 int
	MutableGlobals          int
	Tables                  int
	ElementSegments         int
	DataSegments            int
	ParamsResults           int
	TableSize               uint64
	LocalsPerFunction       uint64
	Locals                  uint64 // whole module
	FunctionBodyBytes       int
	InstructionsPerFunction int
	ControlPerFunction      int
	StackHeight             int
	BlockDepth              int
	LoopsPerFunction        int
	BrTableTargets          int
	Instructions            int // whole module
	ModuleBytes             int
	// CompileCost bounds cost.go's estimate for the module with the
	// interrupt checks, in microseconds of compile CPU.
	CompileCost int
}

// proposed are the defaults README.md argues for.
var proposed = limits{
	Types:                   1_000,
	Functions:               100_000,
	Imports:                 10_000,
	Exports:                 10_000,
	Globals:                 1_000,
	MutableGlobals:          32,
	Tables:                  16,
	ElementSegments:         100_000,
	DataSegments:            1_000_000,
	ParamsResults:           1_000,
	TableSize:               1 << 20,
	LocalsPerFunction:       256,
	Locals:                  1 << 20,
	FunctionBodyBytes:       256 << 10,
	InstructionsPerFunction: 1 << 16,
	ControlPerFunction:      4_096,
	StackHeight:             256,
	BlockDepth:              2_048,
	LoopsPerFunction:        512,
	BrTableTargets:          4_096,
	Instructions:            8 << 20,
	ModuleBytes:             64 << 20,
	CompileCost:             8_000_000,
}

// check returns the limits sh breaks, as "Name: found > limit".
func (l limits) check(sh shape) []string {
	found := map[string]uint64{
		"Types": uint64(sh.Types), "Functions": uint64(sh.Functions), "Imports": uint64(sh.Imports),
		"Exports": uint64(sh.Exports), "Globals": uint64(sh.Globals), "MutableGlobals": uint64(sh.MutableGlobals),
		"Tables": uint64(sh.Tables), "ElementSegments": uint64(sh.ElementSegments),
		"DataSegments": uint64(sh.DataSegments), "ParamsResults": uint64(sh.ParamsResults),
		"TableSize": sh.TableSize, "LocalsPerFunction": sh.LocalsPerFunction, "Locals": sh.Locals,
		"FunctionBodyBytes": uint64(sh.FunctionBodyBytes), "InstructionsPerFunction": uint64(sh.MaxInstructions),
		"ControlPerFunction": uint64(sh.ControlPerFunction), "StackHeight": uint64(sh.StackHeight),
		"BlockDepth": uint64(sh.BlockDepth), "LoopsPerFunction": uint64(sh.LoopsPerFunction),
		"BrTableTargets": uint64(sh.BrTableTargets), "Instructions": uint64(sh.Instructions),
		"ModuleBytes": uint64(sh.Bytes), "CompileCost": uint64(sh.Cost),
	}
	var broken []string
	v := reflect.ValueOf(l)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		var limit uint64
		switch f := v.Field(i); f.Kind() {
		case reflect.Int:
			limit = uint64(f.Int())
		default:
			limit = f.Uint()
		}
		if got, ok := found[name]; !ok {
			panic("limits.check: no figure for " + name)
		} else if got > limit {
			broken = append(broken, fmt.Sprintf("%s: %d > %d", name, got, limit))
		}
	}
	return broken
}

func (l limits) String() string {
	var b strings.Builder
	v := reflect.ValueOf(l)
	for i := range v.NumField() {
		fmt.Fprintf(&b, "%s=%v ", v.Type().Field(i).Name, v.Field(i).Interface())
	}
	return strings.TrimSpace(b.String())
}
