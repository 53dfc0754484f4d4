package wasmbin

// For the tests of package wasmbin_test, which may import the rewrites
// (they import wasmbin).
var (
	RealModules     = realModules
	RefusedFixtures = refusedFixtures
)
