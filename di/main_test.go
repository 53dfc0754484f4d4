package di_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: the
// container starts none, and every waiter must be released.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
