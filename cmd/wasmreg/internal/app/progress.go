package app

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// isTerminal reports whether v is a terminal: an *os.File whose
// descriptor has terminal attributes. Pipes, files, /dev/null and test
// buffers are not.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && isTerminalFile(f)
}

// showsProgress reports whether w is a terminal that can redraw a status
// line in place.
func showsProgress(w io.Writer) bool {
	return isTerminal(w) && os.Getenv("TERM") != "dumb"
}

// eraseLine returns the cursor to the start of the line and clears it.
const eraseLine = "\r\x1b[K"

// statusLine is one self-erasing line at the bottom of a terminal, redrawn
// in place: the status line of run ([progress]) and the progress bar of
// bench ([benchBar]). It draws nothing before delay has passed since start
// and redraws at most once an interval, so that short runs print nothing
// and a fast loop does not flood the terminal.
//
// Everything else written to the terminal while the line may be on it must
// go through [statusLine.Writer], which erases the line first so that
// messages are never mixed with it. A nil *statusLine draws nothing and its
// Writer is the plain terminal. statusLine is safe for concurrent use.
type statusLine struct {
	out      io.Writer
	start    time.Time
	now      func() time.Time
	delay    time.Duration // nothing is drawn before start+delay
	interval time.Duration // least time between two draws

	mu     sync.Mutex // guards the fields below and writes to out
	drawn  bool       // the line is on the screen
	last   time.Time  // when it was last drawn
	closed bool       // erased for good: draw does nothing
}

func newStatusLine(out io.Writer, delay, interval time.Duration) *statusLine {
	return &statusLine{out: out, start: time.Now(), now: time.Now, delay: delay, interval: interval}
}

// draw redraws the line with text() if a redraw is due. text is called
// only then, so that a caller in a hot loop pays for formatting at most
// once an interval.
func (s *statusLine) draw(text func() string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.closed || now.Sub(s.start) < s.delay || now.Sub(s.last) < s.interval {
		return
	}
	s.last = now
	_, _ = io.WriteString(s.out, eraseLine+text())
	s.drawn = true
}

// clear erases the line; the caller holds mu.
func (s *statusLine) clear() {
	if s.drawn {
		_, _ = io.WriteString(s.out, eraseLine)
		s.drawn = false
	}
}

// close erases the line for good: later draws do nothing.
func (s *statusLine) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clear()
	s.closed = true
}

// Writer returns a writer to the terminal that erases the line before
// each write; the line is drawn again at the next draw.
func (s *statusLine) Writer(terminal io.Writer) io.Writer {
	if s == nil {
		return terminal
	}
	return statusLineWriter{s}
}

type statusLineWriter struct{ s *statusLine }

func (w statusLineWriter) Write(b []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.clear()
	return w.s.out.Write(b)
}

// progress is the status line of run while a batch of requests runs: how
// far through the input it is (when the input's size is known), how many
// requests were answered and failed, and the rate. It waits a second
// before drawing anything and redraws at most ten times a second. A nil
// *progress draws nothing and its Writer is the plain terminal. progress
// is safe for concurrent use.
type progress struct {
	*statusLine
	total int64 // bytes of input, 0 if unknown
}

func newProgress(out io.Writer, total int64) *progress {
	return &progress{statusLine: newStatusLine(out, time.Second, 100*time.Millisecond), total: total}
}

// update redraws the status line if it is due: done bytes of the input
// read, answered and failed requests.
func (p *progress) update(done int64, answered, failed int) {
	if p == nil {
		return
	}
	p.draw(func() string {
		var b strings.Builder
		if p.total > 0 {
			frac := min(float64(done)/float64(p.total), 1)
			const width = 24
			filled := int(frac * width)
			fmt.Fprintf(&b, "%3.0f%% [%s%s] ", frac*100, strings.Repeat("=", filled), strings.Repeat(" ", width-filled))
		}
		fmt.Fprintf(&b, "%d answered", answered)
		if failed > 0 {
			fmt.Fprintf(&b, ", %d failed", failed)
		}
		fmt.Fprintf(&b, ", %.0f/s", float64(answered+failed)/p.now().Sub(p.start).Seconds())
		return b.String()
	})
}

// done erases the status line for good.
func (p *progress) done() {
	if p == nil {
		return
	}
	p.close()
}

// Writer returns a writer to the terminal that erases the status line
// before each write.
func (p *progress) Writer(terminal io.Writer) io.Writer {
	if p == nil {
		return terminal
	}
	return p.statusLine.Writer(terminal)
}
