package host

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// Linear memories. By default wazero keeps a guest's linear memory on the
// Go heap: every build zeroes a fresh buffer and leaves it to the garbage
// collector, which is what stops builds from scaling across cores
// (docs/PERFORMANCE.md). The host gives every instance a memory of its own
// making instead (linmem_linux.go): on Linux a reservation of the memory's
// maximum size outside the Go heap, made readable and writable as the
// guest grows it and reused, zeroed, by later instances; and for an
// instance restored from a snapshot, the snapshot's image mapped
// copy-on-write, so that a build copies only the pages it writes.
//
// Such memory is unmapped or reused when released, so it must never be
// released under a running call. wazero frees an instance's memory when
// the instance is closed, possibly by another goroutine than the one
// running a call on it: Free does nothing, and the host releases the
// memory itself when it closes the instance, which it does only while no
// call runs on it (instance.go).

// instanceAllocator makes the memory of one instantiation, from image if
// it is not nil, and keeps it for the instance. wazero calls Allocate from
// the instantiating goroutine, at most once for a module with one memory.
type instanceAllocator struct {
	image *memImage
	mem   *linearMemory
}

var _ experimental.MemoryAllocator = (*instanceAllocator)(nil)

// Allocate implements experimental.MemoryAllocator.
func (a *instanceAllocator) Allocate(capBytes, maxBytes uint64) experimental.LinearMemory {
	a.mem = newLinearMemory(a.image, capBytes, maxBytes)
	liveMemories.Add(1)
	return a.mem
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

// liveMemories counts the memories allocated and not yet released, for
// the tests that check that closing under calls leaks none.
var liveMemories atomic.Int64

// Free implements experimental.LinearMemory and does nothing: see above.
func (m *linearMemory) Free() {}

// release gives the memory back. The instance's owner calls it once no
// call can run on it; it is idempotent, and nil-safe.
func (m *linearMemory) release() {
	if m == nil || m.released {
		return
	}
	m.released = true
	m.free()
	liveMemories.Add(-1)
}
