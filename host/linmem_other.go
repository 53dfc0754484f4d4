//go:build !linux

package host

// linearMemory is an instance's linear memory: outside Linux the host maps
// nothing and keeps it on the Go heap.
type linearMemory struct {
	heapMemory
	released bool
}

func newLinearMemory(image *memImage, capBytes, maxBytes uint64) *linearMemory {
	var b []byte
	if image != nil {
		b = image.b
	}
	return &linearMemory{heapMemory: newHeapMemory(b, capBytes, maxBytes)}
}

// Reallocate implements experimental.LinearMemory.
func (m *linearMemory) Reallocate(size uint64) []byte { return m.reallocate(size) }

func (m *linearMemory) free() { m.buf = nil }

// memImage is a snapshot's memory image.
type memImage struct{ b []byte }

func newMemImage(b []byte) (*memImage, error) { return &memImage{b: append([]byte(nil), b...)}, nil }

// memPoolLimitPages is the largest memory a pool would keep: there is none.
func memPoolLimitPages() int { return 1 }

// resident returns the bytes of the memory: all of it is on the Go heap.
func (m *linearMemory) resident() int64 { return int64(cap(m.buf)) }
