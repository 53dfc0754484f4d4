package host

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMemoryBudgetFor(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name             string
		physical, cgroup uint64
		want             uint64
	}{
		{"physical memory only", 24 * gib, 0, 12 * gib},
		{"a cgroup limit under it", 24 * gib, 4 * gib, 2 * gib},
		{"a cgroup limit over it", 4 * gib, 24 * gib, 2 * gib},
		{"a cgroup limit only", 0, 4 * gib, 2 * gib},
		{"nothing known", 0, 0, FallbackMemoryBudget},
		{"rounded down to a MiB", 24683584 << 10, 0, 12052 << 20},
		{"tiny", 100 << 10, 0, 64 << 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, memoryBudgetFor(tc.physical, tc.cgroup))
		})
	}
}

func TestSizeString(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "0 bytes", 1000: "1000 bytes", 1 << 10: "1 KiB", 3 << 20: "3 MiB",
		1<<20 + 1<<10: "1.0 MiB (1049600 bytes)", 12 << 30: "12 GiB", 2 << 40: "2 TiB",
		2<<20 - 1: "2.0 MiB (2097151 bytes)", 1500: "1.5 KiB (1500 bytes)",
	} {
		assert.Equal(t, want, sizeString(n), "%d", n)
	}
}
