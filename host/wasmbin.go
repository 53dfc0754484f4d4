package host

import (
	"errors"
	"fmt"
)

// wasmImport is one entry of a module's import section.
type wasmImport struct {
	module, name string
	kind         byte // 0 func, 1 table, 2 memory, 3 global, 4 tag
}

var importKinds = [...]string{"function", "table", "memory", "global", "tag"}

func (i wasmImport) kindName() string {
	if int(i.kind) < len(importKinds) {
		return importKinds[i.kind]
	}
	return fmt.Sprintf("kind %d", i.kind)
}

var errMalformed = errors.New("malformed module")

// readImports lists the imports of a module wazero has already compiled
// (so its structure is valid). wazero's CompiledModule reports imported
// functions and memories but not tables, globals or tags, which a factory
// may not import either.
func readImports(wasm []byte) ([]wasmImport, error) {
	r := &reader{b: wasm}
	r.skip(8) // magic and version
	for r.err == nil && r.off < len(r.b) {
		id := r.byte()
		size := r.u32()
		if r.err != nil {
			break
		}
		end := r.off + int(size)
		if end > len(r.b) || end < r.off {
			return nil, errMalformed
		}
		if id != 2 {
			r.off = end
			continue
		}
		n := r.u32()
		imports := make([]wasmImport, 0, min(n, 1<<16))
		for range n {
			var imp wasmImport
			imp.module, imp.name = r.name(), r.name()
			imp.kind = r.byte()
			switch imp.kind {
			case 0: // function: type index
				r.u32()
			case 1: // table: reftype, limits
				r.byte()
				r.limits()
			case 2: // memory: limits
				r.limits()
			case 3: // global: valtype, mutability
				r.byte()
				r.byte()
			case 4: // tag: attribute, type index
				r.byte()
				r.u32()
			default:
				return nil, errMalformed
			}
			if r.err != nil {
				return nil, r.err
			}
			imports = append(imports, imp)
		}
		return imports, r.err
	}
	return nil, r.err
}

// reader decodes the few encodings the import section uses; after the
// first error every read returns zero values.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) skip(n int) {
	if r.err == nil && r.off+n > len(r.b) {
		r.err = errMalformed
		return
	}
	r.off += n
}

func (r *reader) byte() byte {
	if r.err != nil || r.off >= len(r.b) {
		r.err = errMalformed
		return 0
	}
	b := r.b[r.off]
	r.off++
	return b
}

// u32 reads an unsigned LEB128 of at most 5 bytes.
func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		b := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint32(b&0x7f) << shift
		if b&0x80 == 0 {
			return v
		}
	}
	r.err = errMalformed
	return 0
}

func (r *reader) name() string {
	n64 := uint64(r.u32())
	if r.err != nil || n64 > uint64(len(r.b)-r.off) {
		r.err = errMalformed
		return ""
	}
	n := int(n64)
	s := string(r.b[r.off : r.off+n])
	r.off += n
	return s
}

func (r *reader) limits() {
	flags := r.byte()
	r.u32()
	if flags&1 != 0 {
		r.u32()
	}
}
