package host_test

import "encoding/binary"

// schemaGuest returns a factory module whose wasmreg_info writes metadata
// and whose wasmreg_build accepts every config: a guest for the tests of
// config_schema, encoded here so that each test can give its own schema.
func schemaGuest(metadata string) []byte {
	uleb := func(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
	vec := func(items ...[]byte) []byte {
		b := uleb(nil, uint64(len(items)))
		for _, it := range items {
			b = append(b, it...)
		}
		return b
	}
	name := func(s string) []byte { return append(uleb(nil, uint64(len(s))), s...) }
	section := func(id byte, payload []byte) []byte {
		return append(uleb([]byte{id}, uint64(len(payload))), payload...)
	}
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	const i32 = 0x7f
	types := vec(
		[]byte{0x60, 2, i32, i32, 0}, // 0: (i32, i32) -> ()
		[]byte{0x60, 0, 1, i32},      // 1: () -> i32
		[]byte{0x60, 1, i32, 1, i32}, // 2: (i32) -> i32
	)
	imports := vec(cat(name("wasmreg"), name("output"), []byte{0x00, 0}))
	funcs := vec([]byte{1}, []byte{1}, []byte{2}, []byte{2}) // 1..4
	memory := vec([]byte{0x00, 2})                           // 2 pages, no maximum
	exports := vec(
		cat(name("memory"), []byte{0x02, 0}),
		cat(name("wasmreg_abi_version"), []byte{0x00, 1}),
		cat(name("wasmreg_info"), []byte{0x00, 2}),
		cat(name("wasmreg_build"), []byte{0x00, 3}),
		cat(name("wasmreg_predict"), []byte{0x00, 4}),
	)
	body := func(code ...byte) []byte {
		b := append([]byte{0}, code...)
		return append(uleb(nil, uint64(len(b))), b...)
	}
	i32const := func(v int64) []byte { // signed LEB128
		b := []byte{0x41}
		for {
			c := byte(v & 0x7f)
			v >>= 7
			if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
				return append(b, c)
			}
			b = append(b, c|0x80)
		}
	}
	info := cat(i32const(0), i32const(int64(len(metadata))), []byte{0x10, 0}, i32const(0), []byte{0x0b})
	codes := vec(
		body(0x41, 1, 0x0b), // abi version: 1
		body(info...),
		body(0x41, 0, 0x0b), // build: 0
		body(0x41, 0, 0x0b), // predict: 0
	)
	data := vec(cat([]byte{0}, []byte{0x41, 0, 0x0b}, name(metadata)))
	return cat([]byte("\x00asm\x01\x00\x00\x00"),
		section(1, types), section(2, imports), section(3, funcs), section(5, memory),
		section(7, exports), section(10, codes), section(11, data))
}
