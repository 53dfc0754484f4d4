package app

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

// gcSettings returns the collector's percent and memory limit.
func gcSettings() (percent int, limit int64) {
	percent = debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	return percent, debug.SetMemoryLimit(-1)
}

// TestPauseGC changes the process's collector settings, so it must not run
// in parallel with other tests (it does not call t.Parallel).
func TestPauseGC(t *testing.T) {
	percent, limit := gcSettings()
	if percent == -1 {
		t.Skip("the collector is off (GOGC=off): nothing to pause")
	}
	tests := []struct {
		name       string
		env        string // GOGC
		firstFirst bool   // the first pause ends first
	}{
		{"nested, ended in order", "", true},
		{"nested, ended in reverse", "", false},
		{"GOGC set: the user's setting stands", "200", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOGC", tc.env)
			t.Setenv("GOMEMLIMIT", "")
			paused := tc.env == ""
			first := pauseGC(1 << 30)
			second := pauseGC(2 << 30)
			p, l := gcSettings()
			if paused {
				assert.Equal(t, -1, p)
				assert.Equal(t, int64(2<<30), l, "the larger limit holds")
			} else {
				assert.Equal(t, percent, p)
				assert.Equal(t, limit, l)
			}
			if tc.firstFirst {
				first()
				first() // a second call does nothing
			} else {
				second()
			}
			p, _ = gcSettings()
			if paused {
				assert.Equal(t, -1, p, "paused while a pause is in effect")
			}
			first()
			second()
			p, l = gcSettings()
			assert.Equal(t, percent, p)
			assert.Equal(t, limit, l)
		})
	}
}

func TestStartupHeapLimit(t *testing.T) {
	// The mlp Go guest (3.7 MB) allocates 34 MiB to start up and keeps 12.
	got := startupHeapLimit(3_721_724, 64<<20)
	assert.Greater(t, got, int64(4*34<<20))
	assert.Less(t, got, int64(1<<30))
}
