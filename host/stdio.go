package host

import (
	"context"
	"io"
	"log/slog"
	"sync"
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
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range []*stdioWriter{s.stdout, s.stderr} {
		if len(w.line) > 0 && !w.long {
			w.emit(false)
		}
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

// Write implements io.Writer. It never fails, so a chatty guest is not
// broken by the cap: its output is dropped instead.
func (w *stdioWriter) Write(p []byte) (int, error) {
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(p)
	if s.remaining <= 0 {
		s.warnOnce()
		return n, nil
	}
	if len(p) > s.remaining {
		p = p[:s.remaining]
	}
	s.remaining -= len(p)
	limit := s.f.h.cfg.logLineLimit
	for _, b := range p {
		if b == '\n' {
			if !w.long {
				w.emit(false)
			}
			w.line, w.long = w.line[:0], false
			continue
		}
		if w.long {
			continue
		}
		w.line = append(w.line, b)
		if len(w.line) >= limit {
			w.emit(true)
			w.line, w.long = w.line[:0], true
		}
	}
	if s.remaining <= 0 {
		s.warnOnce()
	}
	return n, nil
}

func (w *stdioWriter) emit(truncated bool) {
	msg := sanitize(w.line, w.s.f.h.cfg.logLineLimit)
	if truncated {
		msg += "…[truncated]"
	}
	w.s.f.h.guestLogger(context.Background()).LogAttrs(context.Background(), w.level, msg,
		slog.String("factory", w.s.f.fullName), slog.String("source", w.stream))
}

func (s *guestStdio) warnOnce() {
	if s.warned {
		return
	}
	s.warned = true
	s.f.h.logger().LogAttrs(context.Background(), slog.LevelWarn, "guest stdout/stderr over the per-instance cap; dropping the rest",
		slog.String("factory", s.f.fullName), slog.Int("limit", s.f.h.cfg.stdioLimit))
}
