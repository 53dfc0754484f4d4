package host

// ObserveMemoryBudget makes fn see the host's reserved bytes after every
// change, under the budget's lock: fn must not call back into the host.
// Call it before the host builds anything.
func ObserveMemoryBudget(h *Host, fn func(used uint64)) {
	h.budget.Observe(fn)
}

// InstanceOverhead is the part of h's reservations that is not linear
// memory.
func InstanceOverhead(h *Host) uint64 { return h.cfg.instanceOverhead() }
