package driver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
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
	cpu        time.Duration // the CPU time it reported at exit; set before done is closed
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

// start runs argv and waits for its ready line.
func start(ctx context.Context, what string, argv []string) (*server, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	s := &server{cmd: cmd, stderr: &capped{}, done: make(chan struct{})}
	cmd.Stderr = s.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrServer, what, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %s: start %s: %v", ErrServer, what, argv[0], err)
	}
	lines := make(chan string, 1)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "cpu "); ok {
				if us, err := strconv.ParseInt(v, 10, 64); err == nil {
					s.cpu = time.Duration(us) * time.Microsecond
				}
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	// Wait closes the pipe: only once everything in it is read.
	go func() { <-read; s.waitErr = cmd.Wait(); close(s.done) }()
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case line, ok := <-lines:
		if ok && s.parseReady(line) == nil {
			return s, nil
		}
		<-s.done
		return nil, fmt.Errorf("%w: %s: no ready line (got %q), exit %v: %s", ErrServer, what, line, s.waitErr, s.stderr)
	case <-timer.C:
		s.stop()
		return nil, fmt.Errorf("%w: %s: not ready after %v: %s", ErrServer, what, readyTimeout, s.stderr)
	case <-ctx.Done():
		s.stop()
		return nil, fmt.Errorf("%w: %s: %w", ErrServer, what, ctx.Err())
	}
}

// parseReady reads "ready http=ADDR grpc=ADDR gomaxprocs=N".
func (s *server) parseReady(line string) error {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "ready" {
		return errors.New("not a ready line")
	}
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "http":
			s.httpAddr = v
		case "grpc":
			s.grpcAddr = v
		case "gomaxprocs":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("gomaxprocs %q", v)
			}
			s.gomaxprocs = n
		}
	}
	if s.httpAddr == "" || s.grpcAddr == "" || s.gomaxprocs == 0 {
		return errors.New("incomplete ready line")
	}
	return nil
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
