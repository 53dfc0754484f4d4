package host

import "sync"

// FallbackMemoryBudget is the memory budget [DefaultMemoryBudget] returns
// when it can read neither the machine's physical memory nor a cgroup's
// memory limit (and on systems other than Linux).
const FallbackMemoryBudget = 4 << 30

// DefaultMemoryBudget returns the memory budget of a host made without
// [WithMemoryBudget]: half of the machine's physical memory or of the
// memory limit of the process's cgroup, whichever is smaller, rounded down
// to a MiB, or [FallbackMemoryBudget] if neither can be read. It reads them
// once per process, and is safe for concurrent use.
func DefaultMemoryBudget() uint64 { return defaultMemoryBudget() }

var defaultMemoryBudget = sync.OnceValue(func() uint64 { return memoryBudgetFor(systemMemory()) })

// memoryBudgetFor is half of the smaller of physical memory and the
// cgroup limit, where zero means unknown (or no limit), rounded down to a
// whole MiB so that it reads well in errors and help.
func memoryBudgetFor(physical, cgroup uint64) uint64 {
	limit := physical
	if cgroup != 0 && (limit == 0 || cgroup < limit) {
		limit = cgroup
	}
	if limit == 0 {
		return FallbackMemoryBudget
	}
	if half := limit / 2; half >= 1<<20 {
		return half &^ (1<<20 - 1)
	}
	return max(limit/2, wasmPageSize)
}
