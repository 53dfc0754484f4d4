package host

import "github.com/wasmreg/wasmreg/host/internal/linmem"

// LiveMemories is the number of guest memories allocated and not yet
// released.
func LiveMemories() int64 { return linmem.Live() }

// GuestResident is the bytes of m's guest memories that are resident and
// private to it (see linmem.Memory.Resident), or -1 if unknown.
func GuestResident(m *Model) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for _, inst := range m.all {
		r := inst.mem.Resident()
		if r < 0 {
			return -1
		}
		n += r
	}
	return n
}

// BuildGoGuest is buildGoGuest, for the external tests.
var BuildGoGuest = buildGoGuest

// CompilesInFlight is the number of compiles running, abandoned ones
// included.
func CompilesInFlight(h *Host) int64 { return h.compilesRunning.Load() }
