package wasmbin

import "unicode/utf8"

// checkNames reports whether wazero v1.12 reads the payload of a "name"
// custom section without error, and where it stopped if not. It follows
// wazero's decodeNameSection step by step: subsections 0 (module name),
// 1 (function names) and 2 (local names) are decoded, others skipped by
// their size, and the loop runs while the declared sizes, counted in
// wazero's unsigned (wrapping) arithmetic, have not used up the section.
// wazero reads on past the section when they are wrong; that always
// fails (the section's length then disagrees with what was read) unless
// the module ends with this section, where a clean end of input is
// success: last says so.
//
// Every count is checked against the bytes left before it is believed,
// which also refuses the modules on which wazero would allocate what a
// huge count declares before failing.
func checkNames(b []byte, last bool) (int, bool) {
	p := 0
	limit := uint64(len(b))
	u32 := func() (uint32, bool) {
		v, n := readU32(b[p:])
		p += n
		return v, n != 0
	}
	name := func() bool {
		n, ok := u32()
		if !ok || uint64(n) > uint64(len(b)-p) {
			return false
		}
		ok = utf8.Valid(b[p : p+int(n)])
		if ok {
			p += int(n)
		}
		return ok
	}
	// count reads a count of entries of at least min bytes each.
	count := func(min int) (uint32, bool) {
		n, ok := u32()
		return n, ok && uint64(n)*uint64(min) <= uint64(len(b)-p)
	}
	for limit > 0 {
		if p == len(b) {
			return p, last
		}
		id := b[p]
		p++
		limit--
		at := p
		size, ok := u32()
		if !ok {
			return at, false
		}
		limit -= uint64(p - at)
		switch id {
		case 0:
			if !name() {
				return p, false
			}
		case 1, 2:
			n, ok := count(2)
			if !ok {
				return p, false
			}
			for range n {
				if _, ok := u32(); !ok {
					return p, false
				}
				if id == 1 {
					if !name() {
						return p, false
					}
					continue
				}
				locals, ok := count(2)
				if !ok {
					return p, false
				}
				for range locals {
					if _, ok := u32(); !ok || !name() {
						return p, false
					}
				}
			}
		default:
			if uint64(size) > uint64(len(b)-p) {
				return p, false
			}
			p += int(size)
		}
		limit -= uint64(size)
	}
	return p, p == len(b)
}
