//go:build linux

package host

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/wasmreg/wasmreg/host/internal/budget"
)

func TestDefaultMemoryBudget(t *testing.T) {
	var info unix.Sysinfo_t
	require.NoError(t, unix.Sysinfo(&info))
	physical := uint64(info.Totalram) * uint64(info.Unit)
	def := DefaultMemoryBudget()
	assert.Positive(t, def)
	assert.LessOrEqual(t, def, physical/2)
	assert.Equal(t, def, DefaultMemoryBudget(), "computed once")
	if _, cg := budget.SystemMemory(); cg != 0 {
		assert.LessOrEqual(t, def, cg/2, "the cgroup's limit is honoured")
	}
}
