package host

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

// snapshotGlobalPrefix names the exports the rewrite adds.
const snapshotGlobalPrefix = "__wasmreg_snapshot_global_"

// snapshotMinSize is the smallest module worth rewriting: small modules
// instantiate in microseconds.
const snapshotMinSize = 256 << 10

// snapshotMaxGlobals bounds the globals a build restores one by one.
const snapshotMaxGlobals = 1024

// dataSegment is an active data segment of memory 0.
type dataSegment struct {
	offset uint32
	data   []byte
}

// snapshotPlan is what the rewrite removed and must be restored by hand.
type snapshotPlan struct {
	segments []dataSegment
	globals  []string // export names of the mutable globals
}

// snapshot is the state of an instance right after _initialize.
type snapshot struct {
	image   *linmem.Image // the memory, which each restored instance starts from
	size    int           // bytes of memory
	globals []uint64      // in plan.globals order
}

var errNoSnapshot = errors.New("module not suited to a snapshot")

// rewriteForSnapshot returns m's bytes with its mutable globals exported,
// its data section emptied and the segments it held, or errNoSnapshot
// (wrapped) for a module it does not handle: not built by Go's toolchain,
// a start section, passive segments, segments of another memory or with a
// non-constant offset, mutable globals that are not numbers. m was
// decoded strictly (wasmbin.Decode), so every section it keeps is valid.
func rewriteForSnapshot(m *wasmbin.Module) ([]byte, *snapshotPlan, error) {
	goBuilt := false
	for i := range m.Sections {
		if s := &m.Sections[i]; s.ID == wasmbin.SecCustom && s.Name == "go:buildid" {
			goBuilt = true
		}
	}
	switch {
	case !goBuilt:
		return nil, nil, fmt.Errorf("%w: not built by Go's toolchain", errNoSnapshot)
	case m.HasStart: // it would have to run before the snapshot too
		return nil, nil, fmt.Errorf("%w: start section", errNoSnapshot)
	case m.Section(wasmbin.SecExport) == nil:
		return nil, nil, fmt.Errorf("%w: no export section", errNoSnapshot)
	}
	plan := &snapshotPlan{}
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
			return nil, nil, fmt.Errorf("%w: mutable global of type 0x%x", errNoSnapshot, byte(g.Type.Type))
		}
		mutable = append(mutable, m.ImportedGlobals+uint32(i))
	}
	if len(mutable) > snapshotMaxGlobals {
		return nil, nil, fmt.Errorf("%w: %d mutable globals", errNoSnapshot, len(mutable))
	}
	for i, d := range m.Data {
		if d.Mode != wasmbin.ModeActive || d.Memory != 0 || d.Offset.Op != 0x41 { // i32.const
			return nil, nil, fmt.Errorf("%w: data segment %d is not an active segment of memory 0 at a constant offset", errNoSnapshot, i)
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
				name := fmt.Sprintf("%s%d", snapshotGlobalPrefix, idx)
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

// take captures mod's memory and the planned globals.
func (p *snapshotPlan) take(mod api.Module) (*snapshot, error) {
	mem := mod.Memory()
	if mem == nil {
		return nil, errNoSnapshot
	}
	view, ok := mem.Read(0, mem.Size())
	if !ok {
		return nil, errNoSnapshot
	}
	image, err := linmem.NewImage(view)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoSnapshot, err)
	}
	s := &snapshot{image: image, size: len(view)}
	for _, name := range p.globals {
		g := mod.ExportedGlobal(name)
		if g == nil {
			return nil, fmt.Errorf("%w: global %s not exported", errNoSnapshot, name)
		}
		s.globals = append(s.globals, g.Get())
	}
	return s, nil
}

// apply writes the data segments into mod's memory, as instantiation does.
func (p *snapshotPlan) apply(mod api.Module) error {
	mem := mod.Memory()
	for _, seg := range p.segments {
		if !mem.Write(seg.offset, seg.data) {
			return fmt.Errorf("%w: data segment at %d out of bounds", errNoSnapshot, seg.offset)
		}
	}
	return nil
}

// restore makes a fresh instance of the rewritten module, instantiated
// with the snapshot's image (linmem.Allocator), what the snapshot was: its
// memory grown to the image's size (the allocator mapped the image
// already), its mutable globals set.
func (s *snapshot) restore(p *snapshotPlan, mod api.Module) error {
	mem := mod.Memory()
	if want, have := uint32(s.size/wasmPageSize), mem.Size()/wasmPageSize; want > have {
		if _, ok := mem.Grow(want - have); !ok {
			return fmt.Errorf("%w: cannot grow memory to %d pages", ErrMemoryLimit, want)
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
