package wasmbin

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStateOps checks that Decode counts exactly the instructions that
// change a table or drop a segment, which recycling an instance cannot
// undo, and none of the memory and table instructions it can.
func TestStateOps(t *testing.T) {
	tests := []struct {
		name string
		code []byte
		want uint32
	}{
		{"none", []byte{0x0b}, 0},
		{"table.get", []byte{0x41, 0, 0x25, 0, 0x1a, 0x0b}, 0},
		{"table.set", []byte{0x41, 0, 0xd0, 0x6f, 0x26, 1, 0x0b}, 1},
		{"table.size", []byte{0xfc, 16, 1, 0x1a, 0x0b}, 0},
		{"table.grow", []byte{0xd0, 0x70, 0x41, 1, 0xfc, 15, 0, 0x1a, 0x0b}, 1},
		{"table.fill", []byte{0x41, 0, 0xd0, 0x70, 0x41, 1, 0xfc, 17, 0, 0x0b}, 1},
		{"table.copy", []byte{0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 14, 0, 0, 0x0b}, 1},
		{"table.init", []byte{0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 12, 0, 0, 0x0b}, 1},
		{"elem.drop", []byte{0xfc, 13, 0, 0x0b}, 1},
		{"data.drop", []byte{0xfc, 9, 0, 0x0b}, 1},
		{"memory.init", []byte{0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 8, 0, 0, 0x0b}, 0},
		{"memory.copy", []byte{0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 10, 0, 0, 0x0b}, 0},
		{"memory.fill", []byte{0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 11, 0, 0x0b}, 0},
		{"memory.grow and stores", []byte{0x41, 1, 0x40, 0, 0x1a, 0x41, 0, 0x41, 0, 0x36, 2, 0, 0x0b}, 0},
		{"global.set", []byte{0x23, 0, 0x24, 1, 0x0b}, 0},
		{"two in unreachable code", []byte{0x00, 0xfc, 9, 0, 0xfc, 13, 0, 0x0b}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(rich(0, tc.code...).bytes(), DefaultLimits())
			require.NoError(t, err)
			assert.Equal(t, tc.want, m.Code[0].StateOps)
			fn, ok := m.StateOp()
			assert.Equal(t, tc.want > 0, ok)
			if ok {
				assert.Equal(t, m.ImportedFuncs, fn, "the first defined function holds it")
			}
		})
	}
}
