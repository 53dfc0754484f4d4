package host

import (
	"slices"

	"github.com/wasmreg/wasmreg/host/internal/linmem"
	"github.com/wasmreg/wasmreg/host/internal/snapshot"
	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

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

// The accessors below have no caller outside the tests (issue 10's
// audit of exported names), so they exist for the tests only.

// Factory returns the factory that built the model.
func (m *Model) Factory() *Factory { return m.f }

// Instances returns how many instances the model has now.
func (m *Model) Instances() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.all)
}

// Snapshotted reports whether the factory's builds start from a snapshot
// of an instance taken right after _initialize (see [WithoutSnapshots]).
func (f *Factory) Snapshotted() bool { return f.snap != nil }

// Grants returns the capabilities the host grants, sorted.
func (h *Host) Grants() []string {
	var out []string
	for _, c := range Capabilities() {
		if h.cfg.grants[c] {
			out = append(out, c)
		}
	}
	return out
}

// ParseMetadata runs h's metadata parser on out, as Load runs it on what
// wasmreg_info wrote, and returns the factory it filled in.
func ParseMetadata(h *Host, out []byte) (*Factory, error) {
	f := &Factory{h: h, fullName: "sha256:fuzz"}
	if err := f.parseMetadata(out); err != nil {
		return nil, err
	}
	return f, nil
}

// DressAsGo is dressedAsGo's dressing, for the external tests: wasm with a
// "go:buildid" custom section and padding to the snapshot's minimum size,
// so that the host snapshots it, and recycles its instances, as a Go
// guest's.
func DressAsGo(wasm []byte) []byte {
	custom := func(b []byte, name string, content []byte) []byte {
		return wasmbin.AppendSection(b, wasmbin.SecCustom, append(wasmbin.AppendName(nil, name), content...))
	}
	wasm = custom(slices.Clone(wasm), "go:buildid", []byte("recycle-test"))
	return custom(wasm, "padding", make([]byte, snapshot.MinSize))
}

// Recycles reports whether the factory recycles its instances, how many
// it keeps now, and how many builds reused one.
func Recycles(f *Factory) (on bool, kept, reused int64) {
	return f.recycle != nil, f.kept.Load(), f.reused.Load()
}
