package host

import (
	"context"
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
			lines = append(lines, w.cut(false))
		}
		w.line, w.long = w.line[:0], false
	}
	s.mu.Unlock()
	s.log(lines, false)
}

// reset makes s what newGuestStdio made, for a recycled instance: no
// partial line, the cap full again. It is nil-safe.
func (s *guestStdio) reset(limit int) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remaining, s.warned = limit, false
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
				lines = append(lines, w.cut(false))
			}
			w.line, w.long = w.line[:0], false
			continue
		}
		if w.long {
			continue
		}
		w.line = append(w.line, b)
		if len(w.line) >= limit {
			lines = append(lines, w.cut(true))
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
