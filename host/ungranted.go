package host

// WithUngrantedImports makes Load accept a module whose imports or
// metadata need capabilities the host has not granted, instead of refusing
// it with [ErrNotGranted]; nothing more is granted: a call of such an import
// traps with ErrNotGranted, and WASI's clocks and random_get stay
// deterministic. [Factory.Info] still lists every capability the module
// needs. It is for hosts that only look at modules (list their names,
// inspect their metadata), so that a module's start function and
// wasmreg_info run with no capability at all, yet a module that needs one
// is still found and described.
func WithUngrantedImports() Option {
	return func(c *config) error {
		c.ungranted = true
		return nil
	}
}
