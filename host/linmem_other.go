//go:build !linux

package host

// linearMemory is an instance's linear memory on the Go heap: outside
// Linux the host maps nothing, and Free leaves the buffer to the garbage
// collector. An instance restored from a snapshot starts from a copy of the
// image, in one allocation, so that restoring neither grows nor writes it
// again.
type linearMemory struct {
	buf      []byte
	max      uint64
	released bool
}

func newLinearMemory(image *memImage, capBytes, maxBytes uint64) *linearMemory {
	size := capBytes
	if image != nil {
		size = max(size, uint64(len(image.b)))
	}
	m := &linearMemory{buf: make([]byte, 0, size), max: maxBytes}
	if image != nil {
		m.buf = append(m.buf, image.b...)
	}
	return m
}

// Reallocate implements experimental.LinearMemory. Memory beyond what the
// guest had is zero, as memory.grow requires.
func (m *linearMemory) Reallocate(size uint64) []byte {
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	if size > m.max {
		return nil
	}
	grown := make([]byte, size, min(m.max, max(size, 2*uint64(cap(m.buf)))))
	copy(grown, m.buf)
	m.buf = grown
	return grown
}

func (m *linearMemory) free() { m.buf = nil }

// memImage is a snapshot's memory image.
type memImage struct{ b []byte }

func newMemImage(b []byte) (*memImage, error) { return &memImage{b: append([]byte(nil), b...)}, nil }

// memPoolLimitPages is the largest memory a pool would keep: there is none.
func memPoolLimitPages() int { return 1 }

// resident returns the bytes of the memory: all of it is on the Go heap.
func (m *linearMemory) resident() int64 { return int64(cap(m.buf)) }
