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

// progress draws one self-erasing status line on a terminal while a batch
// of requests runs: how far through the input it is (when the input's size
// is known), how many requests were answered and failed, and the rate. It
// waits a second before drawing anything, so short runs print nothing, and
// redraws at most ten times a second.
//
// Everything else written to the terminal during the run must go through
// [progress.Writer], which erases the line first so that messages are
// never mixed with it. A nil *progress draws nothing and its Writer is the
// plain terminal. progress is safe for concurrent use.
type progress struct {
	out   io.Writer
	total int64 // bytes of input, 0 if unknown
	start time.Time
	now   func() time.Time

	mu    sync.Mutex // guards the fields below and writes to out
	drawn bool       // the status line is on the screen
	last  time.Time  // when it was last drawn
}

func newProgress(out io.Writer, total int64) *progress {
	return &progress{out: out, total: total, start: time.Now(), now: time.Now}
}

// update redraws the status line if it is due.
func (p *progress) update(done int64, answered, failed int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	elapsed := now.Sub(p.start)
	if elapsed < time.Second || now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	var b strings.Builder
	b.WriteString("\r\x1b[K")
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
	fmt.Fprintf(&b, ", %.0f/s", float64(answered+failed)/elapsed.Seconds())
	_, _ = io.WriteString(p.out, b.String())
	p.drawn = true
}

// clear erases the status line; the caller holds mu.
func (p *progress) clear() {
	if p.drawn {
		_, _ = io.WriteString(p.out, "\r\x1b[K")
		p.drawn = false
	}
}

// done erases the status line for good.
func (p *progress) done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	p.last = p.now().Add(24 * time.Hour) // never draw again
}

// Writer returns a writer to the terminal that erases the status line
// before each write; the line is drawn again at the next update.
func (p *progress) Writer(terminal io.Writer) io.Writer {
	if p == nil {
		return terminal
	}
	return progressWriter{p}
}

type progressWriter struct{ p *progress }

func (w progressWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	w.p.clear()
	return w.p.out.Write(b)
}
