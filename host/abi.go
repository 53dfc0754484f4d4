package host

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmreg/wasmreg/host/internal/wasmbin"

	"github.com/wasmreg/wasmreg/internal/safetext"
)

// ABIVersion is the guest ABI version this host speaks (docs/ABI.md).
const ABIVersion = 1

// Names of the ABI's exports and import modules.
const (
	ImportModule      = "wasmreg"
	WASIModule        = "wasi_snapshot_preview1"
	ExportMemory      = "memory"
	ExportABIVersion  = "wasmreg_abi_version"
	ExportInfo        = "wasmreg_info"
	ExportBuild       = "wasmreg_build"
	ExportPredict     = "wasmreg_predict"
	ExportInitialize  = "_initialize"
	exportInstantiate = "instantiation"  // what a CallError names for instantiation itself
	phaseStart        = "start function" // what a CallError names for the module's start function

	// rewriteExportPrefix starts the names of the exports the host's
	// rewrites add (internal/interrupt, internal/snapshot); Factory.Exports hides them.
	rewriteExportPrefix = "__wasmreg_"
	i32, i64            = api.ValueTypeI32, api.ValueTypeI64
)

type signature struct {
	params, results []api.ValueType
	// doc is the type as docs/ABI.md writes it, with the parameters' names.
	doc string
}

func (s signature) String() string {
	return fmt.Sprintf("(%s) -> (%s)", typeList(s.params), typeList(s.results))
}

func typeList(ts []api.ValueType) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = api.ValueTypeName(t)
	}
	return strings.Join(names, ", ")
}

func (s signature) equal(o signature) bool {
	return slices.Equal(s.params, o.params) && slices.Equal(s.results, o.results)
}

// requiredExports are the functions every factory exports.
var requiredExports = []struct {
	name string
	sig  signature
}{
	{ExportABIVersion, signature{nil, []api.ValueType{i32}, "() -> i32"}},
	{ExportInfo, signature{nil, []api.ValueType{i32}, "() -> i32"}},
	{ExportBuild, signature{[]api.ValueType{i32}, []api.ValueType{i32}, "(len: i32) -> i32"}},
	{ExportPredict, signature{[]api.ValueType{i32}, []api.ValueType{i32}, "(len: i32) -> i32"}},
}

var initializeSig = signature{doc: "() -> ()"}

// hostImport describes one function of the wasmreg import module.
type hostImport struct {
	name       string
	capability string
	sig        signature
	fn         func(*Host, context.Context, api.Module, []uint64)
}

// hostImports is the wasmreg import module of ABI v1.
var hostImports = []hostImport{
	{"input", CapLog, signature{[]api.ValueType{i32}, nil, "(ptr: i32) -> ()"}, (*Host).fnInput},
	{"output", CapLog, signature{[]api.ValueType{i32, i32}, nil, "(ptr: i32, len: i32) -> ()"}, (*Host).fnOutput},
	{"error", CapLog, signature{[]api.ValueType{i32, i32}, nil, "(ptr: i32, len: i32) -> ()"}, (*Host).fnError},
	{"log", CapLog, signature{[]api.ValueType{i32, i32, i32}, nil, "(level: i32, ptr: i32, len: i32) -> ()"}, (*Host).fnLog},
	{"clock_now", CapClock, signature{nil, []api.ValueType{i64}, "() -> i64"}, (*Host).fnClockNow},
	{"clock_monotonic", CapClock, signature{nil, []api.ValueType{i64}, "() -> i64"}, (*Host).fnClockMonotonic},
	{"random_fill", CapRandom, signature{[]api.ValueType{i32, i32}, nil, "(ptr: i32, len: i32) -> ()"}, (*Host).fnRandomFill},
	{"random_seed", CapRandom, signature{[]api.ValueType{i64}, nil, "(seed: i64) -> ()"}, (*Host).fnRandomSeed},
	{"artifact_size", CapArtifact, signature{[]api.ValueType{i32, i32}, []api.ValueType{i64}, "(name_ptr: i32, name_len: i32) -> i64"}, (*Host).fnArtifactSize},
	{"artifact_read", CapArtifact, signature{[]api.ValueType{i32, i32, i64, i32, i32}, []api.ValueType{i64}, "(name_ptr: i32, name_len: i32, offset: i64, ptr: i32, len: i32) -> i64"}, (*Host).fnArtifactRead},
}

func findHostImport(name string) (hostImport, bool) {
	for _, hi := range hostImports {
		if hi.name == name {
			return hi, true
		}
	}
	return hostImport{}, false
}

var importKinds = [...]string{"function", "table", "memory", "global"}

// moduleShape is what checkShape learns about a compiled module.
type moduleShape struct {
	capabilities []string // capabilities its imports need, sorted, without log
	usesWASI     bool
	initialize   bool
	start        bool     // the module has a start function
	imports      []Import // every imported function
	exports      []string // names of exported functions, sorted
	// broken holds the ABI's exports (and _initialize) that are missing
	// or mistyped: a module refused for them may still be asked for its
	// metadata (refused.go) through the others.
	broken map[string]bool // nil if none is
}

// breaks records that the export name is missing or mistyped.
func (s *moduleShape) breaks(name string) {
	if s.broken == nil {
		s.broken = map[string]bool{}
	}
	s.broken[name] = true
}

// Import is one function a factory imports, and the capability a host
// must grant for it (docs/ABI.md §4.2). An Import is a value, safe for
// concurrent use.
type Import struct {
	// Module and Name are the import's module and name, such as "wasmreg"
	// and "random_fill", as the module wrote them.
	Module, Name string
	// Capability is the capability the import needs ([CapRandom], …), or
	// "" if it is always available (log, input, output, error and WASI).
	Capability string
}

// String returns "module.name".
func (i Import) String() string { return i.Module + "." + i.Name }

// maxNameShown is the most bytes of one import name that an error shows.
const maxNameShown = 256

// shownImport is an import's "module.name" as an error shows it: the module
// chose both names, and they may hold anything.
func shownImport(mod, name string) string {
	return safetext.Field(mod, maxNameShown) + "." + safetext.Field(name, maxNameShown)
}

// checkShape checks a module's imports and exports, as its author wrote
// them, against ABI v1 and the grants, and reports every problem it finds,
// each wrapping its sentinel: before anything is rewritten or compiled.
func (h *Host) checkShape(m *wasmbin.Module) (moduleShape, []error) {
	shape := moduleShape{start: m.HasStart}
	var errs []error

	exports := map[string]signature{}
	memoryExported := false
	for _, e := range m.Exports {
		switch e.Kind {
		case wasmbin.KindMemory:
			memoryExported = memoryExported || e.Name == ExportMemory
		case wasmbin.KindFunc:
			if t, ok := m.FuncType(e.Index); ok {
				exports[e.Name] = signatureOf(t)
			}
			if !strings.HasPrefix(e.Name, rewriteExportPrefix) { // a host rewrite's, on a host WithoutInterruption
				shape.exports = append(shape.exports, e.Name)
			}
		}
	}
	slices.Sort(shape.exports)
	if !memoryExported {
		errs = append(errs, fmt.Errorf("%w: memory %q is not exported", ErrMissingExport, ExportMemory))
	}
	for _, req := range requiredExports {
		got, ok := exports[req.name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%w: function %s %s is not exported", ErrMissingExport, req.name, req.sig.doc))
			shape.breaks(req.name)
		case !req.sig.equal(got):
			errs = append(errs, fmt.Errorf("%w: function %s is exported as %s; ABI v%d declares %s %s (docs/ABI.md §2)",
				ErrMissingExport, req.name, got, ABIVersion, req.name, req.sig.doc))
			shape.breaks(req.name)
		}
	}
	if got, ok := exports[ExportInitialize]; ok {
		if !initializeSig.equal(got) {
			errs = append(errs, fmt.Errorf("%w: function %s is exported as %s; ABI v%d declares %s %s (docs/ABI.md §2)",
				ErrMissingExport, ExportInitialize, got, ABIVersion, ExportInitialize, initializeSig.doc))
			shape.breaks(ExportInitialize)
		}
		shape.initialize = true
	}

	caps := map[string]bool{}
	for _, imp := range m.Imports {
		mod, name := imp.Module, imp.Name
		shown := shownImport(mod, name)
		switch imp.Kind {
		case wasmbin.KindMemory:
			errs = append(errs, fmt.Errorf("%w: memory %s: a factory must define and export its own memory", ErrUnknownImport, shown))
			continue
		case wasmbin.KindTable, wasmbin.KindGlobal:
			// The interrupt rewrite could not bound an imported table.
			errs = append(errs, fmt.Errorf("%w: %s %s: a factory may import only functions", ErrUnknownImport, importKinds[imp.Kind], shown))
			continue
		}
		shape.imports = append(shape.imports, Import{Module: mod, Name: name})
		var got signature
		if int(imp.Func) < len(m.Types) {
			got = signatureOf(m.Types[imp.Func])
		}
		switch mod {
		case ImportModule:
			hi, ok := findHostImport(name)
			if !ok {
				errs = append(errs, fmt.Errorf("%w: %s is not part of ABI v%d", ErrUnknownImport, shown, ABIVersion))
				continue
			}
			if !hi.sig.equal(got) {
				errs = append(errs, fmt.Errorf("%w: %s is imported as %s; ABI v%d declares %s %s (docs/ABI.md §4)",
					ErrMistypedImport, shown, got, ABIVersion, name, hi.sig.doc))
				continue
			}
			if hi.capability != CapLog {
				shape.imports[len(shape.imports)-1].Capability = hi.capability
				caps[hi.capability] = true
				if !h.cfg.grants[hi.capability] && !h.cfg.ungranted {
					errs = append(errs, fmt.Errorf("%w: import %s needs capability %q, which the host has not granted",
						ErrNotGranted, shown, hi.capability))
				}
			}
		case WASIModule:
			shape.usesWASI = true
			want, ok := h.wasiFuncs[name]
			if !ok {
				errs = append(errs, fmt.Errorf("%w: %s is not provided by this host's WASI", ErrUnknownImport, shown))
				continue
			}
			if !want.equal(got) {
				errs = append(errs, fmt.Errorf("%w: %s is imported as %s; this host's WASI declares it %s", ErrMistypedImport, shown, got, want))
			}
		default:
			errs = append(errs, fmt.Errorf("%w: %s: module \"%s\" is not provided (only %q and %q are)",
				ErrUnknownImport, shown, safetext.Field(mod, maxNameShown), ImportModule, WASIModule))
		}
	}
	for c := range caps {
		shape.capabilities = append(shape.capabilities, c)
	}
	slices.Sort(shape.capabilities)
	return shape, errs
}

// signatureOf is a function type as the ABI's signatures spell it: the
// strict reader's value types are the binary format's bytes, as wazero's
// api.ValueType are.
func signatureOf(t wasmbin.FuncType) signature {
	conv := func(vs []wasmbin.ValType) []api.ValueType {
		out := make([]api.ValueType, len(vs))
		for i, v := range vs {
			out[i] = api.ValueType(v)
		}
		return out
	}
	return signature{params: conv(t.Params), results: conv(t.Results)}
}
