package linmem

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLinearMemory checks what wazero relies on: memory grows zeroed up to
// its maximum and no further, and a memory reused after another instance
// wrote all over it starts zeroed.
func TestLinearMemory(t *testing.T) {
	const page = pageSize
	for _, tc := range []struct {
		name  string
		pages int // grown to before the memory is released
	}{
		{"small, pooled", 2},
		{"grown past the pool's limit", PoolLimitPages() + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 3 {
				m := New(nil, page, 64*page)
				b := m.Reallocate(page)
				require.Len(t, b, page)
				assert.True(t, allZero(b), "round %d: a new memory is zero", round)
				b = m.Reallocate(uint64(tc.pages * page))
				require.Len(t, b, tc.pages*page)
				assert.True(t, allZero(b), "round %d: grown memory is zero", round)
				for i := range b {
					b[i] = 0xa5
				}
				assert.Nil(t, m.Reallocate(65*page), "past the maximum")
				m.free()
			}
		})
	}
}

func allZero(b []byte) bool { return bytes.Count(b, []byte{0}) == len(b) }

// imageSizes are the image sizes the tests run at, in pages: one copied
// into each memory (at most smallImageMax) and one mapped from the memfd.
var imageSizes = []struct {
	name  string
	pages int
	small bool
}{
	{"copied", 3, true},
	{"mapped", 5, false},
}

// TestMemoryImage checks that instances mapping one snapshot image each see
// the image, write only their own copy, and grow zeroed past it.
func TestMemoryImage(t *testing.T) {
	const page = pageSize
	for _, sz := range imageSizes {
		t.Run(sz.name, func(t *testing.T) {
			image := make([]byte, sz.pages*page)
			for i := range image {
				image[i] = byte(i*7 + 1)
			}
			img, err := NewImage(image)
			require.NoError(t, err)
			assert.Equal(t, sz.small, img.small != nil, "kept on the heap to copy")
			a := New(img, page, 16*page)
			b := New(img, page, 16*page)
			defer a.free()
			defer b.free()
			assert.Equal(t, !sz.small, a.mapped, "mapped from the memfd")
			n := uint64(len(image))
			ab, bb := a.Reallocate(n), b.Reallocate(n)
			require.Equal(t, image, ab)
			require.Equal(t, image, bb)
			for i := range ab {
				ab[i] = 0
			}
			assert.Equal(t, image, bb, "a write to one instance's memory does not reach another's")
			c := New(img, page, 16*page)
			defer c.free()
			assert.Equal(t, image, c.Reallocate(n), "nor the image")
			grown := b.Reallocate(n + 2*page)
			assert.Equal(t, image, grown[:n])
			assert.True(t, allZero(grown[n:]), "memory past the image is zero")
		})
	}
}

// TestAllocatorRelease checks the life of an instance's memory as the host
// sees it: Allocate counts it live, Release gives it back once however
// often it is called, Free leaves it alone, and Resident counts the pages
// the instance wrote.
func TestAllocatorRelease(t *testing.T) {
	for _, tc := range []struct {
		name  string
		image []byte
	}{
		{"fresh", nil},
		{"from an image", bytes.Repeat([]byte{7}, pageSize)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &Allocator{}
			if tc.image != nil {
				img, err := NewImage(tc.image)
				require.NoError(t, err)
				a.Image = img
			}
			before := Live()
			lm := a.Allocate(pageSize, 4*pageSize)
			require.NotNil(t, a.Mem)
			assert.Equal(t, before+1, Live(), "Allocate counts the memory")
			b := lm.Reallocate(2 * pageSize)
			require.Len(t, b, 2*pageSize)
			if tc.image != nil {
				assert.Equal(t, tc.image, b[:pageSize], "the image")
			}
			b[pageSize] = 1
			assert.NotZero(t, a.Mem.Resident(), "a written page is resident")
			lm.Free()
			assert.Equal(t, before+1, Live(), "Free releases nothing")
			a.Mem.Release()
			a.Mem.Release()
			assert.Equal(t, before, Live(), "Release gives it back once")
			var none *Memory
			none.Release() // an instance without memory
		})
	}
}

// TestMemoryReset checks that a memory made from an image, written all
// over and grown, is after Reset what a new memory from the image is:
// the image, and zero past it when it grows again. It grows by a page (a
// copied image's reset zeroes it) and by more than smallGrowthMax (dropped),
// and what a reset memory keeps resident is bounded.
func TestMemoryReset(t *testing.T) {
	const page = pageSize
	for _, sz := range imageSizes {
		t.Run(sz.name, func(t *testing.T) {
			image := make([]byte, sz.pages*page)
			for i := range image {
				image[i] = byte(i*13 + 5)
			}
			img, err := NewImage(image)
			require.NoError(t, err)
			m := New(img, page, 16*page)
			defer m.Release()
			for round, grow := range []int{1, 9, 1, 0, 9} {
				n := uint64(len(image))
				b := m.Reallocate(n)
				require.Equal(t, image, b, "round %d: the image", round)
				b = m.Reallocate(n + uint64(grow*page))
				require.Len(t, b, int(n)+grow*page)
				assert.True(t, allZero(b[n:]), "round %d: grown past the image, zero", round)
				for i := range b {
					b[i] = 0x5a
				}
				got, err := m.Reset(img)
				require.NoError(t, err)
				assert.Equal(t, len(image), got)
				if sz.small {
					assert.LessOrEqual(t, m.Resident(), int64(len(image)+smallGrowthMax), "round %d: a copied image and at most smallGrowthMax zeroed", round)
				} else {
					assert.Zero(t, m.Resident(), "round %d: every written page dropped", round)
				}
				fresh := New(img, page, 16*page)
				assert.Equal(t, fresh.Reallocate(16*page), m.Reallocate(16*page), "round %d: reset is what a new memory is, to its maximum", round)
				fresh.Release()
				_, err = m.Reset(img)
				require.NoError(t, err)
			}
			pooled := New(nil, page, 4*page)
			defer pooled.Release()
			_, err = pooled.Reset(img)
			assert.Error(t, err, "a memory not made from the image")
			_, err = m.Reset(nil)
			assert.Error(t, err)
		})
	}
}

// TestHeapMemoryReset checks the fallback's reset: the image back, and
// zero past it.
func TestHeapMemoryReset(t *testing.T) {
	image := bytes.Repeat([]byte{9}, 2*pageSize)
	h := newHeapMemory(image, pageSize, 8*pageSize)
	b := h.reallocate(6 * pageSize)
	for i := range b {
		b[i] = 1
	}
	assert.Equal(t, len(image), h.reset(image))
	assert.Equal(t, image, h.buf)
	grown := h.reallocate(8 * pageSize)
	assert.Equal(t, image, grown[:len(image)])
	assert.True(t, allZero(grown[len(image):]))
}
