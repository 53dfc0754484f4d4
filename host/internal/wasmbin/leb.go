package wasmbin

// The LEB128 readers below accept exactly what wazero v1.12's
// internal/leb128 accepts and read the same length and value; each reads
// from b and never past it, returning n == 0 when wazero would fail.
// They differ from the specification in three places, all of them kept
// on purpose because wazero is what runs the module:
//
//   - readS32 and readS64 do not check the highest unused bit of a
//     maximal-length encoding (wazero checks bits 4-5 of an s32's 5th byte
//     and bits 1-5 of an s64's 10th, not bit 6). The length and the value
//     are the same as the specification's for every encoding both accept,
//     so this changes only which modules are refused, never how they are
//     read.
//   - readS33 stops after 5 bytes whatever the 5th byte's continuation
//     bit says and ignores bit 6 of the 5th byte: there wazero and the
//     specification read a different length or value, so blockType
//     refuses those encodings (ErrUnsupported) instead of choosing.

// readU32 reads an unsigned LEB128 of at most 5 bytes whose 5th byte
// uses no bit beyond the 32nd, as leb128.DecodeUint32.
func readU32(b []byte) (v uint32, n int) {
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, 0
		}
		c := b[i]
		if c < 0x80 {
			if i == 4 && c&0xf0 != 0 {
				return 0, 0
			}
			return v | uint32(c)<<(7*i), i + 1
		}
		v |= uint32(c&0x7f) << (7 * i)
	}
	return 0, 0
}

// readS32 reads a signed LEB128 of at most 5 bytes, as leb128.DecodeInt32.
func readS32(b []byte) (v int32, n int) {
	shift := 0
	for n < 5 {
		if n >= len(b) {
			return 0, 0
		}
		c := b[n]
		v |= int32(c&0x7f) << shift
		shift += 7
		n++
		if c&0x80 == 0 {
			if shift < 32 && c&0x40 != 0 {
				v |= -1 << shift
			}
			if n == 5 {
				unused := c & 0x30
				if (v < 0 && unused != 0x30) || (v >= 0 && unused != 0) {
					return 0, 0
				}
			}
			return v, n
		}
	}
	return 0, 0
}

// readS64 reads a signed LEB128 of at most 10 bytes, as leb128.DecodeInt64.
func readS64(b []byte) (v int64, n int) {
	shift := 0
	for n < 10 {
		if n >= len(b) {
			return 0, 0
		}
		c := b[n]
		v |= int64(c&0x7f) << shift
		shift += 7
		n++
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			if n == 10 {
				unused := c & 0x3e
				if (v < 0 && unused != 0x3e) || (v >= 0 && unused != 0) {
					return 0, 0
				}
			}
			return v, n
		}
	}
	return 0, 0
}

const (
	mask33 = 1<<33 - 1
	sign33 = 1 << 32
)

// readS33 reads a signed 33-bit LEB128 exactly as
// leb128.DecodeInt33AsInt64: at most 5 bytes (a 5th byte ends the number
// even with its continuation bit set), the value masked to 33 bits, and
// of a 5th byte's unused bits only bit 5 checked against the sign.
func readS33(b []byte) (v int64, n int) {
	shift := 0
	var c int64
	for shift < 35 {
		if n >= len(b) {
			return 0, 0
		}
		c = int64(b[n])
		v |= (c & 0x7f) << shift
		shift += 7
		n++
		if c&0x80 == 0 {
			break
		}
	}
	if shift < 33 && c&0x40 != 0 {
		v |= mask33 << shift
	}
	v &= mask33
	if v&sign33 != 0 {
		v -= 1 << 33
	}
	if n == 5 {
		unused := c & 0x20
		if (v < 0 && unused == 0) || (v >= 0 && unused != 0) {
			return 0, 0
		}
	}
	return v, n
}

// s33SpecAgrees reports whether the specification reads the n bytes
// readS33 read from b to the same length and value: false when a 5th
// byte has its continuation bit set (the specification reads on) or a
// bit 6 that is not the sign (the specification refuses it).
func s33SpecAgrees(b []byte, v int64, n int) bool {
	if n < 5 {
		return true
	}
	c := b[4]
	if c&0x80 != 0 {
		return false
	}
	return (c&0x40 != 0) == (v < 0)
}
