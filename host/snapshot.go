package host

import (
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmreg/wasmreg/host/internal/snapshot"
)

// restoreSnapshot restores s into a fresh instance of the rewritten module
// (package snapshot), and names a memory that cannot grow to the image's
// size as the host's memory limit.
func restoreSnapshot(s *snapshot.Snapshot, p *snapshot.Plan, mod api.Module) error {
	err := s.Restore(p, mod)
	if ge := (*snapshot.GrowError)(nil); errors.As(err, &ge) {
		return fmt.Errorf("%w: %w", ErrMemoryLimit, ge)
	}
	return err
}
