package linmem

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// Allocator makes the memory of one instantiation, from Image if it is
// not nil, and keeps it in Mem for the instance. wazero calls Allocate from
// the instantiating goroutine, at most once for a module with one memory;
// an Allocator is not safe for concurrent use, nor for a second
// instantiation.
type Allocator struct {
	Image *Image  // the snapshot image the memory starts from, or nil
	Mem   *Memory // the memory made, nil until Allocate
}

var _ experimental.MemoryAllocator = (*Allocator)(nil)

// Allocate implements experimental.MemoryAllocator.
func (a *Allocator) Allocate(capBytes, maxBytes uint64) experimental.LinearMemory {
	a.Mem = New(a.Image, capBytes, maxBytes)
	liveMemories.Add(1)
	return a.Mem
}

// heapMemory is a linear memory on the Go heap: outside Linux, or where
// the host could not map one. An instance restored from a snapshot starts
// from a copy of the image, in one allocation, so that restoring neither
// grows nor writes it again. Its owner frees it by dropping it: the
// garbage collector keeps it for as long as a call may still use it.
type heapMemory struct {
	buf []byte
	max uint64
}

func newHeapMemory(image []byte, capBytes, maxBytes uint64) heapMemory {
	m := heapMemory{buf: make([]byte, 0, max(capBytes, uint64(len(image)))), max: maxBytes}
	m.buf = append(m.buf, image...)
	return m
}

// reallocate is experimental.LinearMemory's Reallocate: memory beyond what
// the guest had is zero, as memory.grow requires.
func (m *heapMemory) reallocate(size uint64) []byte {
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

// reset brings the memory back to image, zeroing what it grew past it
// (its capacity included, which a later reallocate hands out again), and
// returns the image's size.
func (m *heapMemory) reset(image []byte) int {
	m.buf = m.buf[:cap(m.buf)]
	if len(m.buf) < len(image) {
		m.buf = make([]byte, len(image), min(m.max, uint64(2*len(image))))
	}
	copy(m.buf, image)
	clear(m.buf[len(image):])
	m.buf = m.buf[:len(image)]
	return len(image)
}

// liveMemories counts the memories allocated and not yet released, for
// the tests that check that closing under calls leaks none.
var liveMemories atomic.Int64

// Live returns the number of memories Allocate made and Release has not
// yet released, in the whole process. It is safe for concurrent use.
func Live() int64 { return liveMemories.Load() }

// pageSize is the size of a WebAssembly page.
const pageSize = 64 << 10

// Free implements experimental.LinearMemory and does nothing: see the
// package doc.
func (m *Memory) Free() {}

// Release gives the memory back. The instance's owner calls it once no
// call can run on it; it is idempotent and nil-safe, not safe for
// concurrent use.
func (m *Memory) Release() {
	if m == nil || m.released {
		return
	}
	m.released = true
	m.free()
	liveMemories.Add(-1)
}
