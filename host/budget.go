package host

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmreg/wasmreg/host/internal/budget"
	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// The memory budget. Guest linear memory lives outside the Go heap
// (package linmem), so neither the Go runtime nor the per-instance limit bounds
// what many live instances hold together: the defaults allow
// DefaultMaxInstances × DefaultMemoryLimit = 64 GiB. The host therefore
// keeps a budget of bytes for all its live instances: each instance
// reserves, before it is instantiated, the most host memory it may come to
// hold, and gives it back when it is closed. A build past the budget waits,
// as it waits for an instance slot.

// FallbackMemoryBudget is the memory budget [DefaultMemoryBudget] returns
// when it can read neither the machine's physical memory nor a cgroup's
// memory limit (and on systems other than Linux).
const FallbackMemoryBudget = 4 << 30

// instanceBaseOverhead is what an instance holds on the Go heap besides its
// linear memory, before any table or stack grows: wazero's module instance,
// its function references and tables at their declared size, and its call
// engines' stacks. Measured with a heap profile of 100 live instances: about
// 15 KiB for a hand-written factory, 140 KiB for a snapshotted Go guest and
// 1 MiB for one that ran Go's own _initialize (its call stack grew).
const instanceBaseOverhead = 1 << 20

// instanceOverhead is the part of an instance's reservation that is not its
// linear memory: the host memory an instance may hold outside it. Each
// host limit on such memory adds its bound here (a limit on the guest's
// call stack adds that stack size; a limit on table entries adds that
// many entries of a table's element size), so that the budget counts
// everything an instance may come to hold.
func (c *config) instanceOverhead() uint64 {
	if c.noInterrupt {
		return instanceBaseOverhead // wazero's own bound on the stack is hundreds of MiB: not counted
	}
	// The rewrite's estimate of a call's stack is never below wazero's
	// real frames (interrupt/frame.go).
	return instanceBaseOverhead + uint64(c.stackLimit)
}

// tableBytes is the host memory a module's tables may grow to: each
// table's declared maximum, or the table limit if it declares none or a
// larger one, at wazero's 8 bytes an element. A factory imports no table.
func (c *config) tableBytes(m *wasmbin.Module) uint64 {
	var n uint64
	for _, t := range m.Tables {
		size := uint64(c.tableLimit)
		if t.HasMax && uint64(t.Max) < size {
			size = uint64(t.Max)
		}
		n += max(size, uint64(t.Min)) * 8
	}
	return n
}

// memoryReservation is the bytes one instance of compiled reserves: the
// most linear memory it may grow to (each memory's declared maximum, or
// the host's memory limit if it declares none or a larger one), in whole
// Wasm pages, plus the per-instance overhead. wazero has already refused a
// module whose minimum is over the limit.
func (c *config) memoryReservation(compiled wazero.CompiledModule) uint64 {
	limitPages := c.memoryLimit / wasmPageSize
	var pages uint64
	seen := map[api.MemoryDefinition]bool{}
	count := func(def api.MemoryDefinition) {
		if seen[def] { // one memory exported under several names
			return
		}
		seen[def] = true
		p := limitPages
		if declared, ok := def.Max(); ok && uint64(declared) < p {
			p = uint64(declared)
		}
		pages += max(p, uint64(def.Min()))
	}
	for _, def := range compiled.ExportedMemories() {
		count(def)
	}
	for _, def := range compiled.ImportedMemories() {
		count(def)
	}
	return pages*wasmPageSize + c.instanceOverhead()
}

// MemoryReservation returns the bytes of the host's memory budget (see
// [WithMemoryBudget]) that each instance of the factory reserves while it
// lives: its memory's declared maximum, or the host's memory limit if it
// declares none or a larger one, what its tables may grow to (their
// declared maximum or the table limit, 8 bytes an element), the guest
// call stack's limit, and a fixed overhead for what else an instance holds
// in host memory. It is safe for concurrent use.
func (f *Factory) MemoryReservation() uint64 {
	if n := f.reservation.Load(); n != 0 {
		return n
	}
	// Concurrent first calls compute the same value.
	n := f.h.cfg.memoryReservation(f.compiled) + f.tableBytes
	f.reservation.Store(n)
	return n
}

// MemoryReserved returns the bytes of guest memory that the host's live
// instances have reserved, and the budget they share (see
// [WithMemoryBudget]). It is safe for concurrent use; the two figures are
// read together, but may be out of date as soon as they are returned.
func (h *Host) MemoryReserved() (used, budget uint64) {
	return h.budget.Reserved()
}

// noWaitKey marks a context whose instances must not wait for a slot or
// for the memory budget: a model growing while it has other instances,
// which its Predict can wait for instead (model.go).
type noWaitKey struct{}

func withoutWaiting(ctx context.Context) context.Context {
	return context.WithValue(ctx, noWaitKey{}, true)
}

// admit takes what a new instance of f holds while it lives: one of the
// host's instance slots, and its reservation of the memory budget. Both
// waits together last at most the call timeout, besides ending with ctx;
// a context marked withoutWaiting fails at once with ErrBusy instead. The
// slot's release gives both back.
func (h *Host) admit(ctx context.Context, f *Factory) (*slot, error) {
	need := f.MemoryReservation()
	if need > h.budget.Total() {
		return nil, overLimit(&LimitError{Kind: ErrMemoryLimit, Option: "WithMemoryBudget", Limit: int64(h.budget.Total()), Got: int64(need),
			Detail: fmt.Sprintf("factory %q: an instance reserves %s (its memory's maximum, or the memory limit, plus %s of overhead), more than the whole memory budget of %s",
				f.fullName, sizeString(need), sizeString(h.cfg.instanceOverhead()), sizeString(h.budget.Total())),
			Otherwise: "lower the module's maximum or the memory limit"})
	}
	wait := ctx.Value(noWaitKey{}) == nil
	began := time.Now()
	var s *slot
	if wait {
		var err error
		if s, err = h.acquire(ctx, f.fullName); err != nil {
			return nil, err
		}
	} else {
		select {
		case h.instances <- struct{}{}:
			s = &slot{h: h}
		default:
			return nil, overLimit(&LimitError{Kind: ErrBusy, Option: "WithMaxInstances", Limit: int64(cap(h.instances)),
				Detail: fmt.Sprintf("factory %q: all %d instance slots are in use", f.fullName, cap(h.instances)), Otherwise: "close models"})
		}
	}
	var deadline time.Time
	if h.cfg.callTimeout > 0 {
		deadline = began.Add(h.cfg.callTimeout)
	}
	granted, cause := h.budget.Reserve(ctx, need, wait, deadline)
	if granted {
		s.reserved = need
		return s, nil
	}
	s.release()
	used, total := h.MemoryReserved()
	busy := &LimitError{Kind: ErrBusy, Option: "WithMemoryBudget", Limit: int64(total), Got: int64(used + need),
		Detail: fmt.Sprintf("factory %q: the memory budget of %s has %s reserved by live instances, and this instance needs %s",
			f.fullName, sizeString(total), sizeString(used), sizeString(need)), Otherwise: "close models"}
	switch {
	case !wait:
	case cause != nil:
		busy.Cause = cause
	default:
		busy.Detail += fmt.Sprintf(", waited %s", h.cfg.callTimeout)
	}
	return nil, overLimit(busy)
}

// sizeString writes a number of bytes in the largest binary unit it
// reaches, as the options and flags spell sizes, exactly: with the number
// of bytes too if the unit does not divide it.
func sizeString(n uint64) string {
	for _, u := range []struct {
		size uint64
		name string
	}{{1 << 40, "TiB"}, {1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		switch {
		case n < u.size:
			continue
		case n%u.size == 0:
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		default:
			return fmt.Sprintf("%.1f %s (%d bytes)", float64(n)/float64(u.size), u.name, n)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// DefaultMemoryBudget returns the memory budget of a host made without
// [WithMemoryBudget]: half of the machine's physical memory or of the
// memory limit of the process's cgroup, whichever is smaller, rounded down
// to a MiB, or [FallbackMemoryBudget] if neither can be read. It reads them
// once per process, and is safe for concurrent use.
func DefaultMemoryBudget() uint64 { return defaultMemoryBudget() }

var defaultMemoryBudget = sync.OnceValue(func() uint64 { return memoryBudgetFor(budget.SystemMemory()) })

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
