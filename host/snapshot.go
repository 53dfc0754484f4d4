package host

import (
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"
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
	image   *memImage // the memory, which each restored instance starts from
	size    int       // bytes of memory
	globals []uint64  // in plan.globals order
}

var errNoSnapshot = errors.New("module not suited to a snapshot")

// rewriteForSnapshot returns wasm with its mutable globals exported, its
// data section emptied and the segments it held, or errNoSnapshot (wrapped)
// for a module it does not handle: a start section, passive segments,
// segments of another memory or with a non-constant offset.
func rewriteForSnapshot(wasm []byte) ([]byte, *snapshotPlan, error) {
	if len(wasm) < 8 {
		return nil, nil, errNoSnapshot
	}
	imports, err := readImports(wasm)
	if err != nil {
		return nil, nil, err
	}
	importedGlobals := 0
	for _, imp := range imports {
		if imp.kind == 3 {
			importedGlobals++
		}
	}
	plan := &snapshotPlan{}
	var mutable []uint32
	goBuilt := false
	out := append([]byte(nil), wasm[:8]...)
	r := &reader{b: wasm, off: 8}
	sawExport := false
	for r.off < len(wasm) {
		header := r.off
		id := r.byte()
		size := r.u32()
		start := r.off
		end := start + int(size)
		if r.err != nil || end > len(wasm) || end < start {
			return nil, nil, errMalformed
		}
		payload := wasm[start:end]
		switch id {
		case 0: // custom: Go's toolchain names its build
			c := &reader{b: payload}
			if c.name() == "go:buildid" {
				goBuilt = true
			}
			out = append(out, wasm[header:end]...)
		case 6: // globals
			g := &reader{b: payload}
			n := g.u32()
			for i := range n {
				valueType := g.byte()
				if g.byte() == 1 {
					// Only numbers can be copied from one instance to
					// another: a funcref points into the instance it
					// came from, and Get and Set see half a v128.
					if valueType < 0x7c || valueType > 0x7f {
						return nil, nil, fmt.Errorf("%w: mutable global of type 0x%x", errNoSnapshot, valueType)
					}
					mutable = append(mutable, uint32(importedGlobals)+i)
				}
				g.constExpr()
				if g.err != nil {
					return nil, nil, g.err
				}
			}
			if g.err != nil || g.off != len(payload) {
				return nil, nil, errMalformed
			}
			if len(mutable) > snapshotMaxGlobals {
				return nil, nil, fmt.Errorf("%w: %d mutable globals", errNoSnapshot, len(mutable))
			}
			out = appendSection(out, id, payload)
		case 7: // exports: add the mutable globals
			sawExport = true
			e := &reader{b: payload}
			n := e.u32()
			if e.err != nil {
				return nil, nil, e.err
			}
			body := appendU32(nil, n+uint32(len(mutable)))
			body = append(body, payload[e.off:]...)
			for _, idx := range mutable {
				name := fmt.Sprintf("%s%d", snapshotGlobalPrefix, idx)
				plan.globals = append(plan.globals, name)
				body = appendU32(body, uint32(len(name)))
				body = append(body, name...)
				body = append(body, 3) // global
				body = appendU32(body, idx)
			}
			out = appendSection(out, id, body)
		case 8: // start: it would have to run before the snapshot too
			return nil, nil, fmt.Errorf("%w: start section", errNoSnapshot)
		case 11: // data
			d := &reader{b: payload}
			n := d.u32()
			for range n {
				flags := d.u32()
				if flags != 0 {
					return nil, nil, fmt.Errorf("%w: data segment flags %d", errNoSnapshot, flags)
				}
				if d.byte() != 0x41 { // i32.const
					return nil, nil, fmt.Errorf("%w: data segment offset is not a constant", errNoSnapshot)
				}
				offset := d.s32()
				if d.byte() != 0x0b {
					return nil, nil, fmt.Errorf("%w: data segment offset is not a constant", errNoSnapshot)
				}
				size64 := uint64(d.u32())
				if d.err != nil || size64 > uint64(len(d.b)-d.off) {
					return nil, nil, errMalformed
				}
				size := int(size64)
				plan.segments = append(plan.segments, dataSegment{offset: uint32(offset), data: d.b[d.off : d.off+size]})
				d.off += size
				if d.err != nil {
					return nil, nil, d.err
				}
			}
			if d.err != nil || d.off != len(payload) {
				return nil, nil, errMalformed
			}
			out = appendSection(out, id, []byte{0})
		case 12: // data count
			out = appendSection(out, id, []byte{0})
		default:
			out = append(out, wasm[header:end]...)
		}
		r.off = end
	}
	if r.err != nil {
		return nil, nil, r.err
	}
	if !sawExport {
		return nil, nil, fmt.Errorf("%w: no export section", errNoSnapshot)
	}
	if !goBuilt {
		return nil, nil, fmt.Errorf("%w: not built by Go's toolchain", errNoSnapshot)
	}
	return out, plan, nil
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
	image, err := newMemImage(view)
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
// with the snapshot's image (instanceAllocator), what the snapshot was: its
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

// constExpr skips a constant expression up to and including its end.
func (r *reader) constExpr() {
	for r.err == nil {
		op := r.byte()
		switch op {
		case 0x0b: // end
			return
		case 0x41, 0x23, 0xd2: // i32.const, global.get, ref.func
			r.s64()
		case 0x42: // i64.const
			r.s64()
		case 0x43:
			r.skip(4)
		case 0x44:
			r.skip(8)
		case 0xd0: // ref.null t
			r.byte()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended-const arithmetic
		case 0xfd: // v128.const
			if r.u32() != 12 {
				r.err = errMalformed
				return
			}
			r.skip(16)
		default:
			r.err = fmt.Errorf("%w: opcode 0x%x in a constant expression", errNoSnapshot, op)
		}
	}
}

// s64 reads a signed LEB128 of at most 10 bytes.
func (r *reader) s64() int64 { return r.sleb(10) }

// sleb reads a signed LEB128 of at most maxBytes bytes; a longer one is
// malformed.
func (r *reader) sleb(maxBytes int) int64 {
	var v int64
	for shift := 0; shift < 7*maxBytes; shift += 7 {
		b := r.byte()
		if r.err != nil {
			return 0
		}
		v |= int64(b&0x7f) << shift
		if b&0x80 == 0 {
			if shift+7 < 64 && b&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			return v
		}
	}
	r.err = errMalformed
	return 0
}

func (r *reader) s32() int32 { return int32(r.s64()) }

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func appendSection(out []byte, id byte, payload []byte) []byte {
	out = append(out, id)
	out = appendU32(out, uint32(len(payload)))
	return append(out, payload...)
}
