package wasmbin

import "unicode/utf8"

// wazeroSafe reports whether wazero v1.12's decoder can be given wasm in
// a test without risk to the test process: it follows wazero's decoder
// (binary.DecodeModule) and its validation only as far as allocation
// goes, and reports false at the first count wazero would allocate for
// before checking it against the bytes (a vector, a name, a custom
// section, a body, local types; wazero allocates 8 bytes per declared
// local), or anything it does not follow. It reports true once wazero's
// decoder would stop with an error, or at the module's end.
//
// The differential fuzz targets need wazero's verdict on modules Decode
// refuses, and Decode stops at the first problem, before the parts of
// the module where such counts may lie.
func wazeroSafe(wasm []byte) bool {
	const maxCount = 1 << 16 // entries wazero may allocate before reading them
	s := &scan{b: wasm}
	if len(wasm) < 8 {
		return true
	}
	s.p = 8
	locals := uint64(0)
	for s.p < len(s.b) {
		id := s.b[s.p]
		s.p++
		s.end = len(s.b)
		size, ok := s.u32()
		if !ok {
			return true
		}
		end := len(s.b)
		if uint64(size) <= uint64(len(s.b)-s.p) {
			end = s.p + int(size)
		} else if id == 0 {
			// A custom section is allocated whole before it is read.
			return size < maxCount
		}
		// wazero reads a section's entries from the whole module, past
		// the section's end if they say so, and checks the section's
		// length only after them.
		s.end = len(s.b)
		switch id {
		case 0:
			n, ok := s.u32()
			if !ok || uint64(n) > uint64(len(s.b)-s.p) {
				return ok && n < maxCount
			}
			if s.p+int(n) > end {
				return true // wazero finds the name longer than the section
			}
			nameStart := s.p
			s.p += int(n)
			if !utf8.Valid(s.b[nameStart:s.p]) {
				return true
			}
			if string(s.b[nameStart:s.p]) == "name" {
				if _, ok := checkNames(s.b[s.p:end], end == len(s.b)); !ok {
					return false
				}
			}
		case 1:
			if !s.vector(func() bool {
				if s.has(1) && s.b[s.p] == recGroup {
					s.ok = false // not followed
					return false
				}
				if !s.has(1) || s.b[s.p] != 0x60 {
					return false
				}
				s.p++
				for range 2 {
					if !s.vector(func() bool { return s.valType() }) {
						return false
					}
				}
				return true
			}) {
				return s.ok
			}
		case 2:
			if !s.vector(func() bool {
				//lint:ignore SA4000 two calls: the import's module name, then its field name
				if !s.name() || !s.name() || !s.has(1) {
					return false
				}
				kind := s.b[s.p]
				s.p++
				switch kind {
				case 0:
					_, ok := s.u32()
					return ok
				case 1:
					return s.table()
				case 2:
					return s.limits()
				case 3:
					return s.valType() && s.skip(1)
				}
				return false
			}) {
				return s.ok
			}
		case 3:
			if !s.vector(func() bool { _, ok := s.u32(); return ok }) {
				return s.ok
			}
		case 4:
			if !s.vector(s.table) {
				return s.ok
			}
		case 5:
			if !s.vector(s.limits) {
				return s.ok
			}
		case 6:
			if !s.vector(func() bool { return s.valType() && s.skip(1) && s.constExpr() }) {
				return s.ok
			}
		case 7:
			if !s.vector(func() bool {
				if !s.name() || !s.skip(1) {
					return false
				}
				_, ok := s.u32()
				return ok
			}) {
				return s.ok
			}
		case 8, 12:
			if _, ok := s.u32(); !ok {
				return true
			}
		case 9:
			if !s.vector(s.element) {
				return s.ok
			}
		case 10:
			if !s.vector(func() bool {
				// wazero reads a body's local declarations twice, the first
				// time past the body if they say so, and allocates their
				// sum: anything irregular here is not followed.
				size, ok := s.u32()
				if !ok || uint64(size) > uint64(s.end-s.p) {
					s.ok = ok && size < maxCount
					return false
				}
				bodyEnd, moduleEnd := s.p+int(size), s.end
				s.end = bodyEnd
				defer func() { s.end = moduleEnd }()
				n, ok := s.u32()
				if !ok || uint64(n)*2 > uint64(bodyEnd-s.p) {
					s.ok = false
					return false
				}
				for range n {
					c, ok := s.u32()
					if !ok || !s.valType() {
						s.ok = false
						return false
					}
					locals += uint64(c)
					if locals > 1<<20 {
						s.ok = false
						return false
					}
				}
				s.p = bodyEnd
				return true
			}) {
				return s.ok
			}
		case 11:
			if !s.vector(func() bool {
				flags, ok := s.u32()
				switch {
				case !ok || flags > 2:
					return false
				case flags == 2:
					if _, ok := s.u32(); !ok {
						return false
					}
					fallthrough
				case flags == 0:
					if !s.constExpr() {
						return false
					}
				}
				return s.name()
			}) {
				return s.ok
			}
		default:
			return false // the tag section, and what wazero may read next
		}
		if s.p != end {
			return true // wazero finds the section's length wrong
		}
		s.p = end
	}
	return true
}

// scan is wazeroSafe's reader. A method reports false when wazero's
// decoder would stop there; ok says whether that stop is safe.
type scan struct {
	b      []byte
	p, end int
	ok     bool
}

func (s *scan) has(n int) bool { return s.end-s.p >= n }

func (s *scan) skip(n int) bool {
	if !s.has(n) {
		return false
	}
	s.p += n
	return true
}

func (s *scan) u32() (uint32, bool) {
	v, n := readU32(s.b[s.p:s.end])
	s.p += n
	return v, n != 0
}

// vector reads a count, small or backed by at least a byte per entry,
// and its entries.
func (s *scan) vector(entry func() bool) bool {
	s.ok = true
	n, ok := s.u32()
	if !ok {
		return false
	}
	if uint64(n) > uint64(s.end-s.p) && n >= 1<<16 {
		s.ok = false
		return false
	}
	// A count above the bytes left is allocated, and its entries read
	// until they run out.
	for range n {
		if !entry() {
			return false
		}
	}
	return true
}

func (s *scan) name() bool {
	n, ok := s.u32()
	if !ok {
		return false
	}
	if uint64(n) > uint64(s.end-s.p) {
		s.ok = n < 1<<16
		return false
	}
	s.p += int(n)
	return true
}

// valType reads a value type; the (ref ...) types are not followed.
func (s *scan) valType() bool {
	if !s.has(1) {
		return false
	}
	switch s.b[s.p] {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69:
		s.p++
		return true
	case refPrefixNullable, refPrefixNonNull:
		s.ok = false
	}
	return false
}

func (s *scan) limits() bool {
	if !s.has(1) {
		return false
	}
	flag := s.b[s.p]
	s.p++
	if flag > 3 {
		return false
	}
	if _, ok := s.u32(); !ok {
		return false
	}
	if flag&1 != 0 {
		_, ok := s.u32()
		return ok
	}
	return true
}

// table reads a table type; wazero takes any byte for its element type.
func (s *scan) table() bool {
	if !s.has(1) {
		return false
	}
	switch s.b[s.p] {
	case tableWithInit, refPrefixNullable, refPrefixNonNull:
		s.ok = false
		return false
	}
	s.p++
	return s.limits()
}

// constExpr follows wazero's decodeConstantExpression, which reads
// instructions until an end.
func (s *scan) constExpr() bool {
	for s.has(1) {
		op := s.b[s.p]
		s.p++
		var ok bool
		switch op {
		case 0x0b:
			return true
		case 0x41:
			_, n := readS32(s.b[s.p:s.end])
			s.p, ok = s.p+n, n != 0
		case 0x42:
			_, n := readS64(s.b[s.p:s.end])
			s.p, ok = s.p+n, n != 0
		case 0x43:
			ok = s.skip(4)
		case 0x44:
			ok = s.skip(8)
		case 0x23, 0xd2:
			_, ok = s.u32()
		case 0xd0:
			ok = s.has(1)
			if ok {
				if t := s.b[s.p]; t == 0x70 || t == 0x6f || t == 0x69 {
					s.p++
				} else {
					_, ok = s.u32()
				}
			}
		case 0xfd:
			ok = s.has(17) && s.b[s.p] == 0x0c
			s.p += 17
		}
		if !ok {
			return false
		}
	}
	return false
}

func (s *scan) element() bool {
	prefix, ok := s.u32()
	if !ok || prefix > 7 {
		return false
	}
	if prefix == 2 || prefix == 6 {
		if _, ok := s.u32(); !ok {
			return false
		}
	}
	if prefix&1 == 0 && !s.constExpr() {
		return false
	}
	if prefix&3 != 0 {
		if prefix&4 != 0 {
			if !s.has(1) {
				return false
			}
			switch s.b[s.p] {
			case 0x70, 0x6f:
				s.p++
			case refPrefixNullable, refPrefixNonNull:
				s.ok = false
				return false
			default:
				return false
			}
		} else if !s.skip(1) {
			return false
		}
	}
	if prefix&4 != 0 {
		return s.vector(s.constExpr)
	}
	return s.vector(func() bool { _, ok := s.u32(); return ok })
}
