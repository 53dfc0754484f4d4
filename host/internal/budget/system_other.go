//go:build !linux

package budget

// SystemMemory reads nothing outside Linux: the default memory budget is
// then FallbackMemoryBudget.
func SystemMemory() (physical, cgroup uint64) { return 0, 0 }
