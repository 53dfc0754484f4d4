package wasmbin

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return b
}

// TestFixtures decodes the WAT fixtures of testdata (the command that
// regenerates each is written in it).
func TestFixtures(t *testing.T) {
	t.Run("features", func(t *testing.T) {
		wasm := readFixture(t, "features.wasm")
		require.NoError(t, wazeroCompile(wasm))
		m, err := Decode(wasm, DefaultLimits())
		require.NoError(t, err)
		want, ok := objdump(t, wasm)
		require.True(t, ok)
		assert.Equal(t, want, counts(m))
		assert.Equal(t, objdumpCounts{Functions: 3, Loops: 1, Instructions: want.Instructions}, counts(m))
		checkModule(t, m)
	})
	for _, tc := range []struct{ file, msg string }{
		{"reach_global.wasm", "function[0] at byte 0x29: global 1, the module has 1"},
		{"reach_table.wasm", "function[0] at byte 0x28: call_indirect through table 1, the module has 1"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			wasm := readFixture(t, tc.file)
			_, err := Decode(wasm, DefaultLimits())
			require.ErrorIs(t, err, ErrInvalidIndex)
			assert.Contains(t, err.Error(), tc.msg)
			assert.Error(t, wazeroCompile(wasm), "wazero refuses it as written too")
		})
	}
}

// loopBehind is a module whose only function opens a block whose type,
// type index 0, is written in the 5 bytes blockType, and a real loop
// right after it: the module of issue 9's class 3, where a reader that
// took the 5 bytes for more (or fewer) than wazero does read the loop's
// bytes as something else and missed it.
func loopBehind(blockType ...byte) []byte {
	code := cat([]byte{0x02}, blockType, []byte{
		0x03, 0x40, // loop
		0x41, 0, 0x0d, 0, // br_if 0
		0x0b, // end loop
		0x0b, // end block
		0x0b})
	return small(code...).bytes()
}

// TestLoopBehindFiveByteBlockType: the canonical 5-byte encoding of a type
// index is read as wazero and wasm-objdump read it, and the loop after
// it counted; the 5-byte encodings whose last byte wazero reads as 33
// bits and the specification as more (bit 6 set, or the continuation bit,
// which makes a 35-bit reader swallow the loop opcode) are refused, so no
// rewrite ever reads them.
func TestLoopBehindFiveByteBlockType(t *testing.T) {
	canonical := loopBehind(0x80, 0x80, 0x80, 0x80, 0x00)
	require.NoError(t, wazeroCompile(canonical))
	m, err := Decode(canonical, DefaultLimits())
	require.NoError(t, err)
	assert.Equal(t, uint32(1), m.Code[0].Loops)
	want, ok := objdump(t, canonical)
	require.True(t, ok)
	assert.Equal(t, want, counts(m))

	r := m.Instructions(0)
	require.True(t, r.Next())
	assert.Equal(t, Instr{Op: OpBlock, Start: 1, End: 7, Depth: 1, BlockType: 0}, *r.Instr())
	require.True(t, r.Next())
	assert.Equal(t, OpLoop, r.Instr().Op)

	for _, last := range []byte{0x80, 0x40, 0xc0} {
		wasm := loopBehind(0x80, 0x80, 0x80, 0x80, last)
		require.NoError(t, wazeroCompile(wasm), "wazero reads 5th byte %#x as 33 bits", last)
		_, err := Decode(wasm, DefaultLimits())
		require.ErrorIs(t, err, ErrUnsupported, "5th byte %#x", last)
		assert.Contains(t, err.Error(), "whose 5th byte")
		assert.True(t, isDocumented(err))
	}
}

// TestUnsupported: each documented encoding that Decode refuses though
// wazero accepts it has a module here that wazero does accept.
func TestUnsupported(t *testing.T) {
	modules := map[string][]byte{
		"whose 5th byte":                       loopBehind(0x80, 0x80, 0x80, 0x80, 0x80),
		"where the specification has one":      small(0x02, 0xc0, 0x7f, 0x0b, 0x0b).bytes(),
		"not in its 2-byte canonical encoding": rich(0, cat([]byte{0xfd, 0x0c}, make([]byte, 16), []byte{0xfd, 0x80, 0x1a, 0x0b})...).bytes(),
		"neither funcref nor externref":        with(small(0x0b), func(m *mod) { m.imports = [][]byte{cat(name("a"), name("t"), []byte{1, 0x7f, 0, 1})} }),
		"exnref":                               with(small(0x0b), func(m *mod) { m.codes = [][]byte{body([]LocalDecl{{1, 0x69}}, 0x0b)} }),
		"ref.null exn":                         small(0xd0, 0x69, 0x1a, 0x0b).bytes(),
		"(ref ...)":                            with(small(0x0b), func(m *mod) { m.types = [][]byte{{0x60, 1, 0x63, 0x70, 0}} }),
		"ref.null of heap type":                with(small(0x0b), func(m *mod) { m.globals = [][]byte{{0x70, 0, 0xd0, 0, 0x0b}} }),
		"table with an initialiser":            with(small(0x0b), func(m *mod) { m.tables = [][]byte{{0x40, 0, 0x70, 0, 1, 0xd0, 0x70, 0x0b}} }),
		"rec group":                            cat(header, sec(SecType, []byte{1, 0x4e, 1, 0x60, 0, 0})),
		"multi-memory": with(small(0x0b), func(m *mod) {
			m.imports = [][]byte{cat(name("a"), name("m"), []byte{2, 0, 1}), cat(name("a"), name("n"), []byte{2, 0, 1})}
		}),
	}
	require.Len(t, modules, len(documentedUnsupported))
	for _, frag := range documentedUnsupported {
		t.Run(frag, func(t *testing.T) {
			wasm, ok := modules[frag]
			require.True(t, ok, "no module for %q", frag)
			_, err := Decode(wasm, noLimits)
			require.ErrorIs(t, err, ErrUnsupported)
			assert.Contains(t, err.Error(), frag)
			assert.NoError(t, wazeroCompile(wasm), "wazero refuses it: then it needs no place in documentedUnsupported")
		})
	}
}
