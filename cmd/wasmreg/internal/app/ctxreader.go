package app

import (
	"context"
	"io"
)

// readerWithContext returns a reader of r whose Read returns ctx's error as
// soon as ctx is done, even while r's Read blocks (standard input waiting
// for a line): a signal must stop a run that waits for requests. Each Read
// of r runs in its own goroutine, into a buffer of its own; after ctx is
// done, a Read still blocked is abandoned, and so is what it returns. The
// reader is not safe for concurrent use, as a bufio.Reader over it is not.
func readerWithContext(ctx context.Context, r io.Reader) io.Reader {
	if ctx.Done() == nil {
		return r
	}
	return &ctxReader{ctx: ctx, r: r}
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
	buf []byte // reused while no Read was abandoned
}

type readResult struct {
	n   int
	err error
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	buf := c.buf[:len(p)]
	done := make(chan readResult, 1)
	go func() {
		n, err := c.r.Read(buf)
		done <- readResult{n, err}
	}()
	select {
	case res := <-done:
		copy(p, buf[:res.n])
		return res.n, res.err
	case <-c.ctx.Done():
		c.buf = nil // the abandoned Read may still write to it
		return 0, c.ctx.Err()
	}
}
