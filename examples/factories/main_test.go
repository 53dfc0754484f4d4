package factories_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

// TestMain removes the modules the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := wasmbuild.Shared.Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}
