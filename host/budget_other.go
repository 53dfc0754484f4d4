//go:build !linux

package host

// systemMemory reads nothing outside Linux: the default memory budget is
// then FallbackMemoryBudget.
func systemMemory() (physical, cgroup uint64) { return 0, 0 }
