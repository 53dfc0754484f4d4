// Package linmem makes the linear memories of guest instances outside the
// Go heap, through wazero's experimental.MemoryAllocator.
//
// By default wazero keeps a guest's linear memory on the Go heap: every
// build zeroes a fresh buffer and leaves it to the garbage collector, which
// is what stops builds from scaling across cores (docs/PERFORMANCE.md,
// section 0, "Guest memory outside the Go heap"). The host gives every
// instance a memory of this package's making instead: on Linux a
// reservation of the memory's maximum size outside the Go heap
// (linmem_linux.go), made readable and writable as the guest grows it and
// reused, zeroed, by later instances; and for an instance restored from a
// snapshot, the snapshot's [Image] mapped copy-on-write, so that a build
// copies only the pages it writes, or, for an image of at most 256 KiB,
// copied into the reservation, which costs less than the faults of a
// mapping's first writes. Elsewhere, or where a mapping fails, the memory
// falls back to the Go heap.
//
// A memory made from an image can be brought back to it ([Memory.Reset]),
// for the host to reuse the instance instead of making a new one
// (recycling, package host's doc). A copied image is copied back, and what
// the instance grew past it zeroed: no system call, so resets on many
// cores do not wait on each other. For a mapped image,
// madvise(MADV_DONTNEED) drops every page the instance wrote, so that the
// image shows through again and what it grew past the image reads zero,
// without changing any mapping; the kernel then flushes the page tables of
// every core running the process, which is why small images are copied
// instead (docs/PERFORMANCE.md §9).
//
// Such memory is unmapped or reused when released, so it must never be
// released under a running call. wazero frees an instance's memory when
// the instance is closed, possibly by another goroutine than the one
// running a call on it: [Memory.Free] does nothing, and the host releases
// the memory itself ([Memory.Release]) when it closes the instance, which
// it does only while no call runs on it.
//
// # The pool is process-wide
//
// The freed memories kept for reuse (Linux only, bounded in count of bytes;
// [PoolLimitPages] is the largest memory kept) form one pool shared by
// every Host in the process, as does the count [Live] returns: a memory
// freed by one host may be reused, zeroed, by another's next instance. It
// is safe for concurrent use: one mutex guards it, held only to take or
// put a mapping, never across a system call.
package linmem
