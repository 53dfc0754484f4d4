package snapshot

import (
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmreg/wasmreg/host/internal/linmem"
	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// Snapshots: a Go guest's instantiation is mostly wazero applying its
// ~36,000 data segments and Go's runtime initialising itself in
// _initialize (docs/PERFORMANCE.md). Both give the same result every time
// when the guest cannot observe randomness or time, so a module that Go's
// toolchain built (its "go:buildid" custom section says so: Go's runtime
// changes no table and keeps only numbers in its mutable globals), of 256
// KiB or more, on a host that grants neither random nor clock, is compiled
// from a rewritten module: every mutable global exported, the data section
// emptied, no start section. Load instantiates it once, applies the data segments by
// hand, runs _initialize and keeps the memory image and the globals' values
// (the idea behind Wizer); every Build then starts a fresh instance from a
// copy of them instead. Each build still gets its own instance and its own
// copy of the memory, so it is exactly as isolated as a fresh one.

// GlobalPrefix names the exports the rewrite adds.
const GlobalPrefix = "__wasmreg_snapshot_global_"

// MinSize is the smallest module worth rewriting, in bytes: small
// modules instantiate fast enough without.
const MinSize = 256 << 10

// maxGlobals bounds the globals a build restores one by one.
const maxGlobals = 1024

// dataSegment is an active data segment of memory 0.
type dataSegment struct {
	offset uint32
	data   []byte
}

// Plan is what the rewrite removed and must be restored by hand. It is
// immutable once Rewrite returns it, and safe for concurrent use.
type Plan struct {
	segments []dataSegment
	globals  []string // export names of the mutable globals
}

// Snapshot is the state of an instance right after _initialize. It is
// immutable once Take returns it, and safe for concurrent use.
type Snapshot struct {
	Image   *linmem.Image // the memory, which each restored instance starts from
	size    int           // bytes of memory
	globals []uint64      // in plan.globals order
}

// ErrNotSuited is the error, wrapped with the reason, of a module the
// rewrite does not handle or an instance whose snapshot cannot be taken.
var ErrNotSuited = errors.New("module not suited to a snapshot")

// GrowError is Restore's error when the instance's memory cannot grow to
// the image's size: the host's memory limit is below what the snapshot
// holds.
type GrowError struct {
	Pages uint32 // the size, in pages, the memory could not grow to
}

func (e *GrowError) Error() string {
	return fmt.Sprintf("cannot grow memory to %d pages", e.Pages)
}

// Rewrite returns m's bytes with its mutable globals exported,
// its data section emptied and the segments it held, or ErrNotSuited
// (wrapped) for a module it does not handle: an instruction that changes a
// table or drops a segment (the snapshot holds memory and globals only, so
// _initialize must leave the tables as instantiation made them), a start
// section, no memory of its own, passive segments, segments of another
// memory or with a non-constant offset, mutable globals that are not
// numbers. m was
// decoded strictly (wasmbin.Decode), so every section it keeps is valid.
func Rewrite(m *wasmbin.Module) ([]byte, *Plan, error) {
	switch fn, stateOp := m.StateOp(); {
	case stateOp: // _initialize could change a table, which a snapshot does not hold
		return nil, nil, fmt.Errorf("%w: function[%d] has an instruction that changes a table or drops a segment", ErrNotSuited, fn)
	case m.HasStart: // it would have to run before the snapshot too
		return nil, nil, fmt.Errorf("%w: start section", ErrNotSuited)
	case m.Section(wasmbin.SecExport) == nil:
		return nil, nil, fmt.Errorf("%w: no export section", ErrNotSuited)
	case len(m.Memories) == 0:
		return nil, nil, fmt.Errorf("%w: no memory of its own", ErrNotSuited)
	}
	plan := &Plan{}
	var mutable []uint32
	for i, g := range m.Globals {
		if !g.Type.Mutable {
			continue
		}
		// Only numbers can be copied from one instance to another: a
		// funcref points into the instance it came from, and Get and Set
		// see half a v128.
		switch g.Type.Type {
		case wasmbin.I32, wasmbin.I64, wasmbin.F32, wasmbin.F64:
		default:
			return nil, nil, fmt.Errorf("%w: mutable global of type 0x%x", ErrNotSuited, byte(g.Type.Type))
		}
		mutable = append(mutable, m.ImportedGlobals+uint32(i))
	}
	if len(mutable) > maxGlobals {
		return nil, nil, fmt.Errorf("%w: %d mutable globals", ErrNotSuited, len(mutable))
	}
	for i, d := range m.Data {
		if d.Mode != wasmbin.ModeActive || d.Memory != 0 || d.Offset.Op != 0x41 { // i32.const
			return nil, nil, fmt.Errorf("%w: data segment %d is not an active segment of memory 0 at a constant offset", ErrNotSuited, i)
		}
		plan.segments = append(plan.segments, dataSegment{offset: uint32(d.Offset.Value), data: d.Init})
	}

	out := append(make([]byte, 0, len(m.Bytes)), m.Bytes[:8]...)
	for i := range m.Sections {
		s := &m.Sections[i]
		switch s.ID {
		case wasmbin.SecExport:
			exports := m.Exports
			payload := wasmbin.AppendU32(nil, uint32(len(exports)+len(mutable)))
			// The entries as they were, after their count.
			payload = append(payload, s.Payload[leb128Width(s.Payload):]...)
			for _, idx := range mutable {
				name := fmt.Sprintf("%s%d", GlobalPrefix, idx)
				plan.globals = append(plan.globals, name)
				payload = wasmbin.AppendName(payload, name)
				payload = append(payload, byte(wasmbin.KindGlobal))
				payload = wasmbin.AppendU32(payload, idx)
			}
			out = wasmbin.AppendSection(out, s.ID, payload)
		case wasmbin.SecData, wasmbin.SecDataCount: // applied by hand
			out = wasmbin.AppendSection(out, s.ID, []byte{0})
		default:
			out = append(out, m.Bytes[s.Offset:s.End()]...)
		}
	}
	return out, plan, nil
}

// pageSize is the size of a WebAssembly page.
const pageSize = 64 << 10

// leb128Width returns the length of the LEB128 that b starts with, which
// a strict decode has already read.
func leb128Width(b []byte) int {
	for i, c := range b {
		if c&0x80 == 0 {
			return i + 1
		}
	}
	return len(b)
}

// Take captures mod's memory and the planned globals.
func (p *Plan) Take(mod api.Module) (*Snapshot, error) {
	mem := mod.Memory()
	if mem == nil {
		return nil, ErrNotSuited
	}
	view, ok := mem.Read(0, mem.Size())
	if !ok {
		return nil, ErrNotSuited
	}
	image, err := linmem.NewImage(view)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotSuited, err)
	}
	s := &Snapshot{Image: image, size: len(view)}
	for _, name := range p.globals {
		g := mod.ExportedGlobal(name)
		if g == nil {
			return nil, fmt.Errorf("%w: global %s not exported", ErrNotSuited, name)
		}
		s.globals = append(s.globals, g.Get())
	}
	return s, nil
}

// Apply writes the data segments into mod's memory, as instantiation does.
func (p *Plan) Apply(mod api.Module) error {
	mem := mod.Memory()
	for _, seg := range p.segments {
		if !mem.Write(seg.offset, seg.data) {
			return fmt.Errorf("%w: data segment at %d out of bounds", ErrNotSuited, seg.offset)
		}
	}
	return nil
}

// Restore makes a fresh instance of the rewritten module, instantiated
// with the snapshot's image (linmem.Allocator), what the snapshot was: its
// memory grown to the image's size (the allocator mapped the image
// already), its mutable globals set.
func (s *Snapshot) Restore(p *Plan, mod api.Module) error {
	mem := mod.Memory()
	if want, have := uint32(s.size/pageSize), mem.Size()/pageSize; want > have {
		if _, ok := mem.Grow(want - have); !ok {
			return &GrowError{Pages: want}
		}
	}
	if view, ok := mem.Read(0, uint32(s.size)); !ok || len(view) != s.size {
		return errors.New("host: restore snapshot: memory is smaller than the image")
	}
	for i, name := range p.globals {
		g, ok := mod.ExportedGlobal(name).(api.MutableGlobal)
		if !ok {
			return fmt.Errorf("host: restore snapshot: global %s is not mutable", name)
		}
		g.Set(s.globals[i])
	}
	return nil
}

// Size returns the bytes of memory the snapshot holds: what a restored
// instance's memory starts with.
func (s *Snapshot) Size() int { return s.size }

// Globals looks up, in an instance of the rewritten module, the mutable
// globals the plan restores, in the order [Snapshot.SetGlobals] takes
// them: a host that resets the instance many times looks them up once.
func (p *Plan) Globals(mod api.Module) ([]api.MutableGlobal, error) {
	gs := make([]api.MutableGlobal, len(p.globals))
	for i, name := range p.globals {
		g, ok := mod.ExportedGlobal(name).(api.MutableGlobal)
		if !ok {
			return nil, fmt.Errorf("%w: global %s is not an exported mutable global", ErrNotSuited, name)
		}
		gs[i] = g
	}
	return gs, nil
}

// SetGlobals sets gs, from [Plan.Globals], to the snapshot's values: every
// mutable global of the module back to what it was right after
// _initialize.
func (s *Snapshot) SetGlobals(gs []api.MutableGlobal) {
	for i, g := range gs {
		g.Set(s.globals[i])
	}
}
