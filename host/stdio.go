package host

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/wasmreg/wasmreg/internal/safetext"
)

// guestStdio turns a WASI guest's stdout and stderr into log lines, capped
// in total bytes per instance. Its writers are safe for concurrent use.
type guestStdio struct {
	f              *Factory
	stdout, stderr *stdioWriter

	mu        sync.Mutex // guards the fields below and the writers' line and long
	remaining int        // bytes still allowed
	warned    bool
	trace     stderrTrace // the current call's stderr, for a trap's reason
}

func newGuestStdio(f *Factory, limit int) *guestStdio {
	s := &guestStdio{f: f, remaining: limit}
	s.stdout = &stdioWriter{s: s, stream: "stdout", level: slog.LevelInfo}
	s.stderr = &stdioWriter{s: s, stream: "stderr", level: slog.LevelWarn}
	return s
}

// flush logs the lines the guest left without a newline, at the end of
// each call, so they are neither lost nor merged with the next call's.
func (s *guestStdio) flush() {
	if s == nil {
		return
	}
	var lines []stdioLine
	s.mu.Lock()
	for _, w := range []*stdioWriter{s.stdout, s.stderr} {
		if len(w.line) > 0 && !w.long {
			lines = w.emit(lines, w.cut(false))
		}
		w.line, w.long = w.line[:0], false
	}
	if n := s.trace.unlogged; n > 0 {
		lines = append(lines, stdioLine{level: slog.LevelWarn, stream: "stderr",
			msg: fmt.Sprintf("%d more lines of the Go runtime's dump not logged", n)})
		s.trace.unlogged = 0
	}
	s.mu.Unlock()
	s.log(lines, false)
}

// begin starts a call: the stderr trace is the call's own.
func (s *guestStdio) begin() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.trace = stderrTrace{}
	s.mu.Unlock()
}

// reason returns the reason the guest's stderr gave in the current call
// for failing, or "" (see stderrTrace.reason).
func (s *guestStdio) reason() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trace.reason()
}

// reset makes s what newGuestStdio made, for a recycled instance: no
// partial line, no stderr trace, the cap full again. It is nil-safe.
func (s *guestStdio) reset(limit int) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remaining, s.warned = limit, false
	s.trace = stderrTrace{}
	for _, w := range []*stdioWriter{s.stdout, s.stderr} {
		w.line, w.long = w.line[:0], false
	}
}

var _ io.Writer = (*stdioWriter)(nil)

type stdioWriter struct {
	s      *guestStdio
	stream string
	level  slog.Level
	line   []byte // guarded by s.mu
	long   bool   // guarded by s.mu; the current line was cut: skip to its end
}

// stdioLine is one line to log, cut from a writer's buffer under the lock
// and logged after it: logging is I/O.
type stdioLine struct {
	level  slog.Level
	stream string
	msg    string
}

// Write implements io.Writer. It never fails, so a chatty guest is not
// broken by the cap: its output is dropped instead.
func (w *stdioWriter) Write(p []byte) (int, error) {
	s := w.s
	n := len(p)
	var lines []stdioLine
	s.mu.Lock()
	if len(p) > s.remaining {
		p = p[:max(s.remaining, 0)]
	}
	s.remaining -= len(p)
	limit := s.f.h.cfg.logLineLimit
	for _, b := range p {
		if b == '\n' {
			if !w.long {
				lines = w.emit(lines, w.cut(false))
			}
			w.line, w.long = w.line[:0], false
			continue
		}
		if w.long {
			continue
		}
		w.line = append(w.line, b)
		if len(w.line) >= limit {
			lines = w.emit(lines, w.cut(true))
			w.line, w.long = w.line[:0], true
		}
	}
	warn := s.remaining <= 0 && !s.warned
	s.warned = s.warned || warn
	s.mu.Unlock()
	s.log(lines, warn)
	return n, nil
}

// cut returns the writer's current line, ready to log; the caller holds
// s.mu.
func (w *stdioWriter) cut(truncated bool) stdioLine {
	msg := safetext.LineBytes(w.line, w.s.f.h.cfg.logLineLimit)
	if truncated && !strings.HasSuffix(msg, safetext.Mark) {
		msg += safetext.Mark
	}
	return stdioLine{level: w.level, stream: w.stream, msg: msg}
}

// emit appends l to lines, unless it is a line of stderr that the trace
// keeps from the log; the caller holds s.mu.
func (w *stdioWriter) emit(lines []stdioLine, l stdioLine) []stdioLine {
	if w == w.s.stderr && !w.s.trace.note(l.msg) {
		return lines
	}
	return append(lines, l)
}

// log writes lines, and the warning that the cap was reached if warn.
func (s *guestStdio) log(lines []stdioLine, warn bool) {
	ctx := context.Background()
	if len(lines) > 0 {
		logger := s.f.h.guestLogger(ctx)
		for _, l := range lines {
			logger.LogAttrs(ctx, l.level, l.msg, slog.String("factory", s.f.fullName), slog.String("source", l.stream))
		}
	}
	if warn {
		s.f.h.logger().LogAttrs(ctx, slog.LevelWarn, "guest stdout/stderr over the per-instance cap; dropping the rest",
			slog.String("factory", s.f.fullName), slog.Int("limit", s.f.h.cfg.stdioLimit))
	}
}

// Bounds of a trap's reason taken from stderr (docs/ABI.md §6).
const (
	// MaxTrapReason is the most bytes of a trap's reason: the message the
	// guest set with error, or the lines of its stderr.
	MaxTrapReason = 512
	// reasonLines is the most stderr lines a reason joins.
	reasonLines = 3
	// dumpLines is how many lines of a Go runtime dump (the goroutine
	// stacks after a panic or a fatal error) are logged; the rest are
	// counted in one line.
	dumpLines = 8
)

// stderrTrace follows the lines a guest writes to stderr in one call, to
// give a trap its reason: the last few lines, or the line a runtime panic
// starts with, and to keep a Go runtime dump's hundred lines of stacks
// from the log. Its methods are called under the guestStdio's lock.
type stderrTrace struct {
	last     [reasonLines]string // the last lines before a dump, oldest first
	n        int                 // lines in last
	panic    []string            // a runtime's panic lines, once one began
	dump     bool                // a Go runtime dump began
	logged   int                 // lines of the dump logged
	unlogged int                 // lines of the dump not logged since the last flush
}

// note records one sanitised stderr line and reports whether to log it.
func (t *stderrTrace) note(line string) bool {
	if t.dump || goDumpStart(line) {
		t.dump = true
		if t.logged < dumpLines {
			t.logged++
			return true
		}
		t.unlogged++
		return false
	}
	if strings.TrimSpace(line) == "" {
		return true
	}
	switch {
	case t.panic != nil:
		if len(t.panic) < reasonLines {
			t.panic = append(t.panic, line)
		}
	case panicStart(line):
		t.panic = []string{line}
	}
	if t.n == reasonLines {
		copy(t.last[:], t.last[1:])
		t.n--
	}
	t.last[t.n] = line
	t.n++
	return true
}

// reason returns the panic's lines if a runtime panicked, else the last
// lines, joined with "; " and bounded by MaxTrapReason; "" if none.
func (t *stderrTrace) reason() string {
	lines := t.panic
	if lines == nil {
		lines = t.last[:t.n]
	}
	return safetext.Line(strings.Join(lines, "; "), MaxTrapReason)
}

// panicStart reports whether line starts a runtime's report of a panic or
// a fatal error: Go's "panic: …", "fatal error: …" and "runtime: out of
// memory: …", Rust's "thread '…' panicked at …", or a line with
// "panicked at " as Rust's newer hooks write it.
func panicStart(line string) bool {
	for _, p := range []string{"panic: ", "fatal error: ", "runtime: out of memory", "thread '"} {
		if strings.HasPrefix(line, p) {
			return p != "thread '" || strings.Contains(line, "panicked at")
		}
	}
	return strings.HasPrefix(line, "panicked at ")
}

// goDumpStart reports whether line starts the goroutine stacks that Go's
// runtime writes after a panic or a fatal error ("goroutine 1 [running]:",
// "runtime stack:").
func goDumpStart(line string) bool {
	if line == "runtime stack:" {
		return true
	}
	rest, ok := strings.CutPrefix(line, "goroutine ")
	return ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' && strings.Contains(rest, " [")
}
