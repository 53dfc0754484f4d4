package host

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// Reading the metadata of a module refused for its imports or exports.
//
// Load refuses such a module before it compiles it: its author then learns
// of its metadata's problems only once the imports and exports are right.
// Validate asks the module for its metadata anyway, in a throw-away host of
// the same limits (memory, call and compile timeouts, output and stdio
// caps, interrupt checks) whose runtime provides, for every import the host
// does not provide as the module declares it, a stub of the declared type
// that traps when called. The module runs exactly as Load would run it,
// start function and _initialize included: a guest that calls a stub is
// stopped with an error naming the import, within the same bounds.

// stub is one function a throw-away host provides in place of an import
// it does not provide as the module declares it.
type stub struct {
	sig signature
	// err is the trap of a call: it names the import in the author's
	// terms and wraps the problem's sentinel.
	err error
}

// moduleStubs are the stubs of one import module, by function name.
type moduleStubs map[string]stub

// importStubs are the stubs of a module's imports, by import module.
type importStubs map[string]moduleStubs

// export adds the stubs to b, replacing any function of the same name.
func (s moduleStubs) export(b wazero.HostModuleBuilder) {
	for name, st := range s {
		err := st.err
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(context.Context, api.Module, []uint64) {
				hostPanic(err)
			}), st.sig.params, st.sig.results).
			WithName(name).
			Export(name)
	}
}

// instantiateOthers instantiates a host module of stubs for each import
// module other than WASI's and wasmreg's.
func (s importStubs) instantiateOthers(ctx context.Context, r wazero.Runtime) error {
	for mod, fns := range s {
		if mod == WASIModule || mod == ImportModule {
			continue
		}
		b := r.NewHostModuleBuilder(mod)
		fns.export(b)
		if _, err := b.Instantiate(ctx); err != nil {
			return fmt.Errorf("host: instantiate the stubs of module %q: %w", mod, err)
		}
	}
	return nil
}

// importStubs returns the stubs that let a module refused for its imports
// or exports be asked for its metadata, or nil if it cannot be asked: it
// has no memory, no wasmreg_info of the ABI's type, a mistyped
// _initialize, or an import no function can stand in for (a memory, a
// table, a global, two functions of one name but different types).
func (h *Host) importStubs(m *wasmbin.Module, shape moduleShape) importStubs {
	if shape.broken[ExportInfo] || shape.broken[ExportInitialize] || len(m.Memories) == 0 {
		return nil
	}
	stubs := importStubs{}
	declared := map[[2]string]signature{}
	for _, imp := range m.Imports {
		if imp.Kind != wasmbin.KindFunc || int(imp.Func) >= len(m.Types) || imp.Module == "" {
			return nil
		}
		got := signatureOf(m.Types[imp.Func])
		key := [2]string{imp.Module, imp.Name}
		if prev, ok := declared[key]; ok {
			if !prev.equal(got) {
				return nil
			}
			continue
		}
		declared[key] = got
		kind := ErrUnknownImport
		switch imp.Module {
		case ImportModule:
			hi, ok := findHostImport(imp.Name)
			if ok && hi.sig.equal(got) {
				continue
			}
			if ok {
				kind = ErrMistypedImport
			}
		case WASIModule:
			want, ok := h.wasiFuncs[imp.Name]
			if ok && want.equal(got) {
				continue
			}
			if ok {
				kind = ErrMistypedImport
			}
		}
		if stubs[imp.Module] == nil {
			stubs[imp.Module] = moduleStubs{}
		}
		stubs[imp.Module][imp.Name] = stub{sig: got, err: fmt.Errorf("%w: the guest called %s, which the host does not provide as the module imports it",
			kind, shownImport(imp.Module, imp.Name))}
	}
	return stubs
}

// withRefusedMetadata returns the *ModuleError of a module prepare refused
// for its imports or exports (r, whose stubs are not nil), with the
// problems of its metadata after them: those that reading it in a
// throw-away host finds, or why it could not be read.
func (h *Host) withRefusedMetadata(ctx context.Context, wasm []byte, r *refusal, short string) error {
	me := &ModuleError{Module: "sha256:" + short, Problems: r.problems}
	cfg := h.cfg
	cfg.shapeReported = true
	// No cache, snapshot or recycling: nothing outlives the one Load.
	cfg.noSnapshots, cfg.recycle, cfg.cacheDir, cfg.pinned = true, 0, "", nil
	th, err := newHost(ctx, cfg, r.stubs)
	if err != nil {
		me.Problems = append(me.Problems, fmt.Errorf("%w: the host could not read the metadata: %w", ErrBadMetadata, err))
		return me
	}
	// Its compile and its instance take this host's compilation slot,
	// instance slot and memory budget: a sandbox per Validate does not
	// multiply what the host allows.
	th.compileSem, th.instances, th.budget = h.compileSem, h.instances, h.budget
	// Close waits for an abandoned compile until ctx is done, then closes
	// the runtime when it ends.
	defer func() { _ = th.Close(ctx) }()
	f, err := th.Load(ctx, wasm)
	if err == nil {
		me.Module = f.Name() + " (" + me.Module + ")"
		_ = f.Close(ctx)
		return me
	}
	var more *ModuleError
	if errors.As(err, &more) {
		me.Module = more.Module
		me.Problems = append(me.Problems, more.Problems...)
		return me
	}
	me.Problems = append(me.Problems, err)
	return me
}

// Validate is [Host.Load] for a factory's author: it loads the module in
// the same way, and returns the same factory or error, except that a
// module refused for its imports or exports ([ErrUnknownImport],
// [ErrMistypedImport], [ErrNotGranted], [ErrMissingExport]) is also asked
// for its metadata, so that the [*ModuleError] lists the metadata's
// problems after those (each naming its field, as Load's do), or why it
// could not be read (a trap, a timeout, an unsupported ABI version, each
// as Load reports it). Without its problems a module is named by its
// name@version too.
//
// The module is asked in a throw-away host with this host's limits and
// grants, whose compile and instance take this host's compilation and
// instance slots and memory budget, and whose runtime stands a stub of the declared type in for each
// import the host does not provide as the module declares it: a call of a
// stub traps, naming the import. A module that defines no memory, exports
// no wasmreg_info of the ABI's type, has a mistyped _initialize, imports
// anything but functions, or whose minimum memory is over the limit, is
// not asked. Validate is safe for concurrent use.
func (h *Host) Validate(ctx context.Context, wasm []byte) (*Factory, error) {
	return h.load(ctx, wasm, true)
}
