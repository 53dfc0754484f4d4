//go:build !wasip1

package clock

import (
	"testing"
	"time"
)

func TestNativeClock(t *testing.T) {
	if d := time.Since(Now()); d < 0 || d > time.Minute {
		t.Errorf("Now() is %v away from the machine's clock", d)
	}
	start := Monotonic()
	time.Sleep(time.Millisecond)
	if d := Since(start); d < time.Millisecond {
		t.Errorf("Since(start) = %v after sleeping 1ms", d)
	}
}
