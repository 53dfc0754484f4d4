package driver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// readyTimeout bounds how long a server may take to print its ready line
// (the Go guests compile in a second or two; a loaded machine is slower).
const readyTimeout = 2 * time.Minute

// server is a started benchserver: its addresses and GOMAXPROCS from its
// ready line, and what it wrote to standard error.
type server struct {
	cmd        *exec.Cmd
	httpAddr   string
	grpcAddr   string
	gomaxprocs int
	stderr     *capped
	done       chan struct{}
	waitErr    error         // set before done is closed
	cpu        time.Duration // its user and system CPU time, once exited; set before done is closed
}

// capped keeps the first 64 KiB written to it, for error messages. It is
// safe for concurrent use.
type capped struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := 64<<10 - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.TrimSpace(c.buf.String())
}

// start runs argv and waits until it is ready: benchserver's ready line
// on standard output, or `wasmreg serve`'s "wasmreg: listening rest=…
// grpc=…" and then "wasmreg: ready: …" on standard error.
func start(ctx context.Context, what string, argv []string) (*server, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	s := &server{cmd: cmd, stderr: &capped{}, done: make(chan struct{})}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrServer, what, err)
	}
	errOut, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrServer, what, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %s: start %s: %w", ErrServer, what, argv[0], err)
	}
	ready := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex // guards the fields of s that the readers set, until done
	var readers sync.WaitGroup
	scan := func(r io.Reader, keep io.Writer) {
		defer readers.Done()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			if keep != nil {
				_, _ = io.WriteString(keep, line+"\n")
			}
			mu.Lock()
			ok := s.parseLine(line)
			mu.Unlock()
			if ok {
				once.Do(func() { close(ready) })
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}
	readers.Add(2)
	go scan(out, nil)
	go scan(errOut, s.stderr)
	// Wait closes the pipes: only once everything in them is read.
	go func() {
		readers.Wait()
		s.waitErr = cmd.Wait()
		if ps := cmd.ProcessState; ps != nil {
			s.cpu = ps.UserTime() + ps.SystemTime()
		}
		close(s.done)
	}()
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case <-ready:
		mu.Lock()
		defer mu.Unlock()
		if s.gomaxprocs == 0 { // wasmreg serve runs with the machine's default, as this process does
			s.gomaxprocs = runtime.GOMAXPROCS(0)
		}
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("%w: %s: exited before it was ready (%v): %s", ErrServer, what, s.waitErr, s.stderr)
	case <-timer.C:
		_ = s.stop()
		return nil, fmt.Errorf("%w: %s: not ready after %v: %s", ErrServer, what, readyTimeout, s.stderr)
	case <-ctx.Done():
		_ = s.stop()
		return nil, fmt.Errorf("%w: %s: %w", ErrServer, what, ctx.Err())
	}
}

// parseLine reads one line the server wrote and reports whether it says
// the server is ready: benchserver's "ready http=ADDR grpc=ADDR
// gomaxprocs=N", or wasmreg serve's
// "wasmreg: listening rest=ADDR grpc=ADDR tls=false" then "wasmreg: ready: …".
func (s *server) parseLine(line string) bool {
	f := strings.Fields(line)
	switch {
	case len(f) == 4 && f[0] == "ready":
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "http":
				s.httpAddr = v
			case "grpc":
				s.grpcAddr = v
			case "gomaxprocs":
				if n, err := strconv.Atoi(v); err == nil && n > 0 {
					s.gomaxprocs = n
				}
			}
		}
		return s.httpAddr != "" && s.grpcAddr != "" && s.gomaxprocs > 0
	case len(f) >= 3 && f[0] == "wasmreg:" && f[1] == "listening":
		for _, kv := range f[2:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "rest":
				s.httpAddr = v
			case "grpc":
				s.grpcAddr = v
			}
		}
	case len(f) >= 2 && f[0] == "wasmreg:" && f[1] == "ready:":
		return s.httpAddr != "" && s.grpcAddr != ""
	}
	return false
}

// stop sends SIGTERM (the server writes its profile and exits), then
// SIGKILL if it is still running 10 s later. It returns the server's
// failure, if it exited with one.
func (s *server) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("%w: did not exit within 10 s of SIGTERM", ErrServer)
	}
	if s.waitErr != nil {
		return fmt.Errorf("%w: exit %v: %s", ErrServer, s.waitErr, s.stderr)
	}
	return nil
}
