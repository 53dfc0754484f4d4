//go:build linux

package linmem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Memory is an instance's linear memory mapped outside the Go heap:
// a reservation of its maximum size (PROT_NONE, so that it costs no
// memory), whose first rw bytes are readable and writable. An instance
// restored from a snapshot has the image mapped privately over the start:
// pages it only reads are shared with the image, a page it writes is
// copied by the kernel on the first write. If the reservation fails, the
// memory falls back to the Go heap.
//
// Reallocate runs on the goroutine running the instance, release on the
// one closing it while no call runs (instance.go).
type Memory struct {
	mapping
	cow      bool       // the image is mapped over the start
	mapped   bool       // and mapped from its memfd, not copied
	heap     heapMemory // the fallback, if base is nil
	released bool
}

// mapping is a reservation of address space.
type mapping struct {
	base     unsafe.Pointer // nil if there is none
	reserved uintptr        // bytes reserved
	rw       uintptr        // bytes readable and writable
}

// memPool keeps the mappings of freed memories that held no image, zeroed,
// for the next instances to reuse: a small guest's build then costs no
// system call, no page fault and nothing for the garbage collector, which
// is what lets builds scale across cores. Memories that grew past
// memPoolMaxRW are unmapped instead, and the pool keeps at most
// memPoolMaxBytes of them.
var memPool struct {
	mu    sync.Mutex
	free  map[uintptr][]mapping // by reserved size
	bytes uintptr               // readable and writable bytes kept
}

const (
	memPoolMaxRW    = 1 << 20
	memPoolMaxBytes = 32 << 20
)

func poolGet(reserved uintptr) (mapping, bool) {
	memPool.mu.Lock()
	defer memPool.mu.Unlock()
	free := memPool.free[reserved]
	if len(free) == 0 {
		return mapping{}, false
	}
	mp := free[len(free)-1]
	memPool.free[reserved] = free[:len(free)-1]
	memPool.bytes -= mp.rw
	return mp, true
}

// poolPut keeps mp, already zeroed, if there is room.
func poolPut(mp mapping) bool {
	memPool.mu.Lock()
	defer memPool.mu.Unlock()
	if memPool.bytes+mp.rw > memPoolMaxBytes {
		return false
	}
	if memPool.free == nil {
		memPool.free = map[uintptr][]mapping{}
	}
	memPool.free[mp.reserved] = append(memPool.free[mp.reserved], mp)
	memPool.bytes += mp.rw
	return true
}

var osPageSize = uintptr(os.Getpagesize())

func roundUpPage(n uintptr) uintptr { return (n + osPageSize - 1) &^ (osPageSize - 1) }

func New(image *Image, capBytes, maxBytes uint64) *Memory {
	m := &Memory{}
	size := maxBytes
	if image != nil {
		size = max(size, uint64(image.size))
	}
	reserved := roundUpPage(uintptr(max(size, capBytes, 1)))
	if image == nil {
		if mp, ok := poolGet(reserved); ok {
			m.mapping = mp
			return m
		}
	}
	base, err := unix.MmapPtr(-1, 0, nil, reserved, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		var b []byte
		if image != nil {
			b = image.bytes()
		}
		m.heap = newHeapMemory(b, capBytes, maxBytes)
		return m
	}
	m.base, m.reserved = base, reserved
	if image != nil && image.small != nil {
		// Small enough to copy: see Image.
		if m.protect(uintptr(image.size)) != nil {
			m.free()
			m.heap = newHeapMemory(image.bytes(), capBytes, maxBytes)
			return m
		}
		copy(m.all(), image.small)
		m.rw, m.cow = roundUpPage(uintptr(image.size)), true
		return m
	}
	if image != nil && image.size > 0 {
		_, err := unix.MmapPtr(image.fd, 0, base, uintptr(image.size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED)
		runtime.KeepAlive(image) // its cleanup closes the fd
		if err != nil {
			// Copy it instead, into the anonymous reservation.
			if m.protect(uintptr(image.size)) != nil {
				m.free()
				m.heap = newHeapMemory(image.bytes(), capBytes, maxBytes)
				return m
			}
			copy(m.all(), image.bytes())
		}
		m.rw, m.cow, m.mapped = uintptr(image.size), true, err == nil
	}
	return m
}

// all is the whole reservation.
func (m *Memory) all() []byte { return unsafe.Slice((*byte)(m.base), m.reserved) }

// protect makes the first n bytes (rounded up to a page) readable and
// writable.
func (m *Memory) protect(n uintptr) error {
	end := roundUpPage(n)
	if end <= m.rw {
		return nil
	}
	if err := unix.Mprotect(m.all()[m.rw:end], unix.PROT_READ|unix.PROT_WRITE); err != nil {
		return err
	}
	m.rw = end
	return nil
}

// Reallocate implements experimental.LinearMemory: memory beyond what the
// guest had is zero, as memory.grow requires, and never moves.
func (m *Memory) Reallocate(size uint64) []byte {
	if m.base == nil {
		return m.heap.reallocate(size)
	}
	if size > uint64(m.reserved) || m.protect(uintptr(size)) != nil {
		return nil
	}
	return m.all()[:size:size]
}

// Reset brings a memory made from image (New) back to what New made, for
// the host to reuse its instance (recycling): every page the instance
// wrote is dropped, so that the image's pages show through again, and the
// pages it grew past the image read zero again. It returns the image's
// size in bytes; wazero's view of the memory's length is the caller's to
// shrink. The caller holds the instance idle; Reset is not safe for
// concurrent use. A memory Reset fails on must not be used again, only
// released.
//
// The pages are dropped with madvise(MADV_DONTNEED), as Wasmtime's
// pooling allocator resets its copy-on-write slots: on a private mapping
// of the (sealed) memfd it discards the private copies, and later reads
// see the file again; on the anonymous pages past the image it leaves
// zero-fill-on-demand pages. Unlike mapping the image again, it changes
// no mapping, so it takes the process's memory-map lock only to read, and
// does not stall the page faults of instances running on other cores.
// The pages past the image stay readable and writable, as those of a
// pooled memory do: wazero checks every access against the memory's
// length. A memory whose image was copied rather than mapped (New's
// fallback) has the image mapped again instead.
func (m *Memory) Reset(image *Image) (int, error) {
	if image == nil || m.released {
		return 0, errors.New("linmem: reset: no image, or the memory was released")
	}
	if m.base == nil {
		return m.heap.reset(image.bytes()), nil
	}
	if !m.cow || uintptr(image.size) > m.reserved || m.rw < uintptr(image.size) {
		return 0, fmt.Errorf("linmem: reset: the memory was not made from this image (%d bytes mapped, the image has %d)", m.rw, image.size)
	}
	if image.small != nil {
		// Copied, not mapped (see Image): copy it back, and zero what
		// the instance grew past it.
		all := m.all()
		copy(all, image.small)
		if grown := all[image.size:m.rw]; len(grown) <= smallGrowthMax {
			clear(grown)
		} else if err := unix.Madvise(grown, unix.MADV_DONTNEED); err != nil {
			return 0, fmt.Errorf("linmem: reset: drop the pages grown past the image: %w", err)
		}
		return image.size, nil
	}
	if !m.mapped && image.size > 0 {
		_, err := unix.MmapPtr(image.fd, 0, m.base, uintptr(image.size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED)
		runtime.KeepAlive(image)
		if err != nil {
			return 0, fmt.Errorf("linmem: reset: map the image again: %w", err)
		}
		m.mapped = true
		if m.rw == uintptr(image.size) {
			return image.size, nil
		}
		if err := unix.Madvise(m.all()[image.size:m.rw], unix.MADV_DONTNEED); err != nil {
			return 0, fmt.Errorf("linmem: reset: drop the pages grown past the image: %w", err)
		}
		return image.size, nil
	}
	if m.rw > 0 {
		if err := unix.Madvise(m.all()[:m.rw], unix.MADV_DONTNEED); err != nil {
			return 0, fmt.Errorf("linmem: reset: drop the pages written: %w", err)
		}
	}
	return image.size, nil
}

// free gives the memory back: to the pool, zeroed, or to the system.
func (m *Memory) free() {
	if m.base != nil {
		if m.cow || m.rw > memPoolMaxRW {
			_ = unix.MunmapPtr(m.base, m.reserved)
		} else {
			clear(m.all()[:m.rw])
			if !poolPut(m.mapping) {
				_ = unix.MunmapPtr(m.base, m.reserved)
			}
		}
		m.mapping = mapping{}
	}
	m.heap = heapMemory{}
}

// Image is a snapshot's memory image in a memfd, which every instance
// restored from the snapshot maps copy-on-write. The fd is closed when the
// image is garbage: mappings keep the file alive, and a build racing
// Factory.Close must still find it open.
//
// An image of at most smallImageMax bytes is also kept on the Go heap,
// and memories are made from it by copying instead: a copy of a few pages
// costs less than the page faults of first writes to a mapping, and a
// reset that copies it back makes no system call. madvise(MADV_DONTNEED)
// makes the kernel flush the page tables of every core running the
// process, so that resetting mapped memories from two goroutines got less
// done than from one (docs/PERFORMANCE.md §9).
type Image struct {
	fd    int
	size  int
	small []byte // the image, if it is small; never written
}

// smallImageMax is the largest image copied rather than mapped, and
// smallGrowthMax the most memory past a copied image that Reset zeroes
// rather than drops: a reset memory keeps at most their sum resident.
const (
	smallImageMax  = 256 << 10
	smallGrowthMax = 64 << 10
)

// MemfdCreate is unix.MemfdCreate; the tests make it fail.
var MemfdCreate = unix.MemfdCreate

func NewImage(b []byte) (*Image, error) {
	fd, err := MemfdCreate("wasmreg-snapshot", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	img := &Image{fd: fd, size: len(b)}
	if len(b) <= smallImageMax {
		img.small = append([]byte(nil), b...)
	}
	runtime.AddCleanup(img, func(fd int) { _ = unix.Close(fd) }, fd)
	for off := 0; off < len(b); {
		n, err := unix.Write(fd, b[off:])
		if err != nil {
			return nil, fmt.Errorf("write memfd: %w", err)
		}
		off += n
	}
	// Nothing may change the image under the instances mapping it.
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	return img, nil
}

// bytes reads the image back, for the fallbacks.
func (img *Image) bytes() []byte {
	b := make([]byte, img.size)
	for off := 0; off < len(b); {
		n, err := unix.Pread(img.fd, b[off:], int64(off))
		if err != nil || n == 0 {
			break
		}
		off += n
	}
	runtime.KeepAlive(img)
	return b
}

// PoolLimitPages is the largest memory the pool keeps, in Wasm pages.
func PoolLimitPages() int { return memPoolMaxRW / pageSize }

// Resident returns the bytes of the memory that are resident and private
// to it: pages it wrote, not the image pages it shares with other
// instances. It reads /proc/self/pagemap, whose flags an unprivileged
// process may read: bit 63 says a page is present, bit 61 that it is a
// file page or shared. It returns -1 if that cannot be read.
func (m *Memory) Resident() int64 {
	if m.base == nil {
		return int64(cap(m.heap.buf))
	}
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return -1
	}
	defer f.Close()
	pages := m.rw / osPageSize
	entries := make([]byte, 8*pages)
	if _, err := f.ReadAt(entries, int64(uintptr(m.base)/osPageSize*8)); err != nil {
		return -1
	}
	var n int64
	for i := uintptr(0); i < pages; i++ {
		e := binary.LittleEndian.Uint64(entries[8*i:])
		if e&(1<<63) != 0 && e&(1<<61) == 0 {
			n += int64(osPageSize)
		}
	}
	return n
}
