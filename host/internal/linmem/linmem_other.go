//go:build !linux

package linmem

import "errors"

// Memory is an instance's linear memory: outside Linux the host maps
// nothing and keeps it on the Go heap.
type Memory struct {
	heapMemory
	released bool
}

func New(image *Image, capBytes, maxBytes uint64) *Memory {
	var b []byte
	if image != nil {
		b = image.b
	}
	return &Memory{heapMemory: newHeapMemory(b, capBytes, maxBytes)}
}

// Reallocate implements experimental.LinearMemory.
func (m *Memory) Reallocate(size uint64) []byte { return m.reallocate(size) }

func (m *Memory) free() { m.buf = nil }

// Reset brings the memory back to image: see the Linux version.
func (m *Memory) Reset(image *Image) (int, error) {
	if image == nil || m.released {
		return 0, errors.New("linmem: reset: no image, or the memory was released")
	}
	return m.reset(image.b), nil
}

// Image is a snapshot's memory image.
type Image struct{ b []byte }

func NewImage(b []byte) (*Image, error) { return &Image{b: append([]byte(nil), b...)}, nil }

// PoolLimitPages is the largest memory a pool would keep: there is none.
func PoolLimitPages() int { return 1 }

// Resident returns the bytes of the memory: all of it is on the Go heap.
func (m *Memory) Resident() int64 { return int64(cap(m.buf)) }
