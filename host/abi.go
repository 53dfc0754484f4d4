package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

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
	exportInstantiate = "instantiate" // the pseudo-export named in instantiation errors

	// rewriteExportPrefix starts the names of the exports the host's
	// rewrites add (interrupt.go, snapshot.go); Factory.Exports hides them.
	rewriteExportPrefix = "__wasmreg_"
	i32, i64            = api.ValueTypeI32, api.ValueTypeI64
)

type signature struct {
	params, results []api.ValueType
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

func (s signature) matches(def api.FunctionDefinition) bool {
	return slices.Equal(s.params, def.ParamTypes()) && slices.Equal(s.results, def.ResultTypes())
}

// requiredExports are the functions every factory exports.
var requiredExports = []struct {
	name string
	sig  signature
}{
	{ExportABIVersion, signature{nil, []api.ValueType{i32}}},
	{ExportInfo, signature{nil, []api.ValueType{i32}}},
	{ExportBuild, signature{[]api.ValueType{i32}, []api.ValueType{i32}}},
	{ExportPredict, signature{[]api.ValueType{i32}, []api.ValueType{i32}}},
}

var initializeSig = signature{}

// hostImport describes one function of the wasmreg import module.
type hostImport struct {
	name       string
	capability string
	sig        signature
	fn         func(*Host, context.Context, api.Module, []uint64)
}

// hostImports is the wasmreg import module of ABI v1.
var hostImports = []hostImport{
	{"input", CapLog, signature{[]api.ValueType{i32}, nil}, (*Host).fnInput},
	{"output", CapLog, signature{[]api.ValueType{i32, i32}, nil}, (*Host).fnOutput},
	{"error", CapLog, signature{[]api.ValueType{i32, i32}, nil}, (*Host).fnError},
	{"log", CapLog, signature{[]api.ValueType{i32, i32, i32}, nil}, (*Host).fnLog},
	{"clock_now", CapClock, signature{nil, []api.ValueType{i64}}, (*Host).fnClockNow},
	{"clock_monotonic", CapClock, signature{nil, []api.ValueType{i64}}, (*Host).fnClockMonotonic},
	{"random_fill", CapRandom, signature{[]api.ValueType{i32, i32}, nil}, (*Host).fnRandomFill},
	{"random_seed", CapRandom, signature{[]api.ValueType{i64}, nil}, (*Host).fnRandomSeed},
	{"artifact_size", CapArtifact, signature{[]api.ValueType{i32, i32}, []api.ValueType{i64}}, (*Host).fnArtifactSize},
	{"artifact_read", CapArtifact, signature{[]api.ValueType{i32, i32, i64, i32, i32}, []api.ValueType{i64}}, (*Host).fnArtifactRead},
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
	imports      []string // "module.name" of every imported function
	exports      []string // names of exported functions, sorted
}

// maxNameShown is the most bytes of one import name that an error shows.
const maxNameShown = 256

// shownImport is an import's "module.name" as an error shows it: the module
// chose both names, and they may hold anything.
func shownImport(mod, name string) string {
	return safetext.Field(mod, maxNameShown) + "." + safetext.Field(name, maxNameShown)
}

// checkShape checks a compiled module's imports and exports against ABI v1
// and the grants, and reports every problem it finds, joined.
func (h *Host) checkShape(compiled wazero.CompiledModule) (moduleShape, error) {
	var shape moduleShape
	var errs []error

	exports := compiled.ExportedFunctions()
	for name := range exports {
		if strings.HasPrefix(name, rewriteExportPrefix) {
			continue // added by a rewrite of the host's, not the author's
		}
		shape.exports = append(shape.exports, name)
	}
	slices.Sort(shape.exports)
	if _, ok := compiled.ExportedMemories()[ExportMemory]; !ok {
		errs = append(errs, fmt.Errorf("%w: memory %q is not exported", ErrMissingExport, ExportMemory))
	}
	for _, req := range requiredExports {
		def, ok := exports[req.name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%w: function %s %s is not exported", ErrMissingExport, req.name, req.sig))
		case !req.sig.matches(def):
			errs = append(errs, fmt.Errorf("%w: function %s has type %s, want %s",
				ErrMissingExport, req.name, signature{def.ParamTypes(), def.ResultTypes()}, req.sig))
		}
	}
	if def, ok := exports[ExportInitialize]; ok {
		if !initializeSig.matches(def) {
			errs = append(errs, fmt.Errorf("%w: function %s has type %s, want %s",
				ErrMissingExport, ExportInitialize, signature{def.ParamTypes(), def.ResultTypes()}, initializeSig))
		}
		shape.initialize = true
	}

	for _, mem := range compiled.ImportedMemories() {
		mod, name, _ := mem.Import()
		errs = append(errs, fmt.Errorf("%w: memory %s: a factory must define and export its own memory", ErrUnknownImport, shownImport(mod, name)))
	}

	caps := map[string]bool{}
	for _, def := range compiled.ImportedFunctions() {
		mod, name, _ := def.Import()
		shape.imports = append(shape.imports, mod+"."+name)
		got := signature{def.ParamTypes(), def.ResultTypes()}
		shown := shownImport(mod, name)
		switch mod {
		case ImportModule:
			hi, ok := findHostImport(name)
			if !ok {
				errs = append(errs, fmt.Errorf("%w: %s is not part of ABI v%d", ErrUnknownImport, shown, ABIVersion))
				continue
			}
			if !hi.sig.matches(def) {
				errs = append(errs, fmt.Errorf("%w: %s has type %s, want %s", ErrUnknownImport, shown, got, hi.sig))
				continue
			}
			if hi.capability != CapLog {
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
			if !want.matches(def) {
				errs = append(errs, fmt.Errorf("%w: %s has type %s, want %s", ErrUnknownImport, shown, got, want))
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
	return shape, errors.Join(errs...)
}
