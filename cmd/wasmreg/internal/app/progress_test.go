package app

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockedBuffer is a terminal that goroutines may write to at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestStatusLine(t *testing.T) {
	t.Parallel()
	var term bytes.Buffer
	s := newStatusLine(&term, time.Second, 100*time.Millisecond)
	now := s.start
	s.now = func() time.Time { return now }
	calls := 0
	text := func(msg string) func() string {
		return func() string { calls++; return msg }
	}

	s.draw(text("early"))
	assert.Empty(t, term.String(), "nothing before the delay")
	assert.Zero(t, calls, "the text is not made when nothing is drawn")

	now = now.Add(time.Second)
	s.draw(text("one"))
	assert.Equal(t, eraseLine+"one", term.String())
	now = now.Add(50 * time.Millisecond)
	s.draw(text("too soon"))
	assert.Equal(t, eraseLine+"one", term.String(), "at most one draw an interval")
	assert.Equal(t, 1, calls)

	fmt.Fprint(s.Writer(&term), "message\n")
	assert.Equal(t, eraseLine+"one"+eraseLine+"message\n", term.String(), "a message erases the line first")
	term.Reset()
	fmt.Fprint(s.Writer(&term), "again\n")
	assert.Equal(t, "again\n", term.String(), "nothing to erase")

	term.Reset()
	now = now.Add(time.Second)
	s.draw(text("two"))
	s.close()
	assert.Equal(t, eraseLine+"two"+eraseLine, term.String(), "close erases the line")
	term.Reset()
	now = now.Add(time.Hour)
	s.draw(text("after"))
	assert.Empty(t, term.String(), "nothing after close")

	var none *statusLine
	none.draw(text("nil"))
	none.close()
	assert.Equal(t, io.Writer(&term), none.Writer(&term))
}

// TestStatusLineHammer draws the line and writes messages through its
// Writer from many goroutines: every message arrives whole, on a line of
// its own, never after the status text.
func TestStatusLineHammer(t *testing.T) {
	t.Parallel()
	const goroutines, messages = 8, 200
	var term lockedBuffer
	s := newStatusLine(&term, 0, 0)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range messages {
				s.draw(func() string { return fmt.Sprintf("status %d/%d", g, i) })
				fmt.Fprintf(s.Writer(&term), "message %d/%d\n", g, i)
			}
		})
	}
	wg.Wait()
	s.close()

	out := term.String()
	require.True(t, strings.HasSuffix(out, eraseLine) || strings.HasSuffix(out, "\n"), "the line is gone at the end: %q", out[max(len(out)-40, 0):])
	for g := range goroutines {
		for i := range messages {
			msg := fmt.Sprintf("message %d/%d\n", g, i)
			at := strings.Index(out, msg)
			require.GreaterOrEqual(t, at, 0, "%q is missing or torn", msg)
			before := out[:at]
			assert.True(t, before == "" || strings.HasSuffix(before, "\n") || strings.HasSuffix(before, eraseLine),
				"%q follows %q", msg, before[max(len(before)-20, 0):])
		}
	}
}

func TestBenchBar(t *testing.T) {
	t.Parallel()
	var term lockedBuffer
	b := newBenchBar(&term, 10*time.Second)
	fmt.Fprint(b.Writer(&term), "loading\n")
	assert.Equal(t, "loading\n", term.String(), "before start, messages pass as they are")

	var builds atomic.Int64
	builds.Store(7)
	b.start(func() (int64, int64) { return builds.Load(), 0 })
	// Wait for the first tick's line; the deadline only stops a hang.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(term.String(), "builds 7  predictions 0") {
		require.True(t, time.Now().Before(deadline), "no line drawn: %q", term.String())
		time.Sleep(10 * time.Millisecond)
	}
	assert.Regexp(t, `^loading\n\r\x1b\[K\[>? *=*>? *\] \d+\.\ds/10s  builds 7  predictions 0`, term.String())

	fmt.Fprint(b.Writer(&term), "warning\n")
	b.stop()
	out := term.String()
	assert.Contains(t, out, eraseLine+"warning\n", "a message erases the line first")
	assert.True(t, strings.HasSuffix(out, "\n") || strings.HasSuffix(out, eraseLine), "stop leaves no line: %q", out)
	n := len(out)
	builds.Store(8)
	time.Sleep(250 * time.Millisecond) // two ticks, had the goroutine survived stop
	assert.Len(t, term.String(), n, "nothing is drawn after stop")

	var none *benchBar
	none.start(func() (int64, int64) { return 0, 0 })
	none.stop()
	assert.Equal(t, io.Writer(&term), none.Writer(&term))
}
