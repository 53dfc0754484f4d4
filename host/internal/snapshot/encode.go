package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"
)

// A Plan's encoding, for the host's load cache (package loadcache): the
// data segments as ranges of the module the plan was made from, which the
// host has at hand again when it decodes the plan (the cache is keyed by
// the module's digest), and the names of the globals.
//
//	u32 segments, then for each: u32 memory offset, u32 module offset, u32 size
//	u32 globals, then for each: u32 size, the name

// ErrBadEncoding is the error, wrapped with what was wrong, of
// [DecodePlan] on bytes that are not a plan's encoding for the module.
var ErrBadEncoding = errors.New("snapshot: bad plan encoding")

// maxGlobalName bounds a global's name: the prefix and a global index.
const maxGlobalName = uint32(len(GlobalPrefix) + 10)

// Encode returns the plan's encoding; module is the module Rewrite read,
// whose bytes hold the segments.
func (p *Plan) Encode(module []byte) ([]byte, error) {
	b := make([]byte, 0, 8+12*len(p.segments)+(4+int(maxGlobalName))*len(p.globals))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(p.segments)))
	for i, seg := range p.segments {
		off, ok := offsetIn(module, seg.data)
		if !ok {
			return nil, fmt.Errorf("snapshot: encode plan: data segment %d is not part of the module", i)
		}
		b = binary.LittleEndian.AppendUint32(b, seg.offset)
		b = binary.LittleEndian.AppendUint32(b, uint32(off))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(seg.data)))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(p.globals)))
	for _, name := range p.globals {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(name)))
		b = append(b, name...)
	}
	return b, nil
}

// offsetIn returns where sub starts in b, if it is a slice of b's bytes.
func offsetIn(b, sub []byte) (int, bool) {
	if len(sub) == 0 {
		return 0, true
	}
	if len(b) == 0 {
		return 0, false
	}
	// The address difference is only a candidate: the comparison of the
	// element pointers says whether sub really is b[off:].
	off := uintptr(unsafe.Pointer(unsafe.SliceData(sub))) - uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if off > uintptr(len(b)-len(sub)) || len(sub) > len(b) {
		return 0, false
	}
	return int(off), &b[off] == &sub[0]
}

// DecodePlan reads a plan's encoding, made by [Plan.Encode] for module,
// strictly: every segment within the module, every global a name the
// rewrite gives, no trailing bytes. Its errors wrap [ErrBadEncoding].
func DecodePlan(b, module []byte) (*Plan, error) {
	r := reader{b: b}
	p := &Plan{}
	n := r.u32()
	if uint64(n)*12 > uint64(len(r.b)) {
		return nil, fmt.Errorf("%w: %d segments in %d bytes", ErrBadEncoding, n, len(r.b))
	}
	if n > 0 { // nil otherwise, as Rewrite leaves it
		p.segments = make([]dataSegment, n)
	}
	for i := range p.segments {
		memOff, modOff, size := r.u32(), r.u32(), r.u32()
		if uint64(modOff)+uint64(size) > uint64(len(module)) {
			return nil, fmt.Errorf("%w: segment %d: bytes %d to %d of a module of %d", ErrBadEncoding, i, modOff, uint64(modOff)+uint64(size), len(module))
		}
		p.segments[i] = dataSegment{offset: memOff, data: module[modOff : modOff+size : modOff+size]}
	}
	n = r.u32()
	if n > maxGlobals || uint64(n)*4 > uint64(len(r.b)) {
		return nil, fmt.Errorf("%w: %d globals", ErrBadEncoding, n)
	}
	if n > 0 {
		p.globals = make([]string, n)
	}
	for i := range p.globals {
		size := r.u32()
		if size > maxGlobalName || uint64(size) > uint64(len(r.b)) {
			return nil, fmt.Errorf("%w: global %d: a name of %d bytes", ErrBadEncoding, i, size)
		}
		name := string(r.b[:size])
		r.b = r.b[size:]
		idx, ok := strings.CutPrefix(name, GlobalPrefix)
		if v, err := strconv.ParseUint(idx, 10, 32); !ok || err != nil || strconv.FormatUint(v, 10) != idx {
			return nil, fmt.Errorf("%w: global %d: %q is not a name the rewrite gives", ErrBadEncoding, i, name)
		}
		p.globals[i] = name
	}
	switch {
	case r.short:
		return nil, fmt.Errorf("%w: truncated", ErrBadEncoding)
	case len(r.b) != 0:
		return nil, fmt.Errorf("%w: %d bytes after the plan", ErrBadEncoding, len(r.b))
	}
	return p, nil
}

// reader reads little-endian numbers, recording a read past the end.
type reader struct {
	b     []byte
	short bool
}

func (r *reader) u32() uint32 {
	if len(r.b) < 4 {
		r.short, r.b = true, nil
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}
