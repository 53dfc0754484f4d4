//go:build linux

package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// started is a running wasmreg process.
type started struct {
	cmd    *exec.Cmd
	stdout *os.File      // the read end of its standard output, a pipe
	stderr *bytes.Buffer // read it only after exited
	exited chan int      // receives the exit status
}

// start starts the binary with stdin, and a standard output that the test
// reads only if it wants to.
func start(t *testing.T, stdin *os.File, args ...string) *started {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "WASMREG_CACHE_DIR="+cacheDir)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	s := &started{cmd: cmd, stdout: r, stderr: &bytes.Buffer{}, exited: make(chan int, 1)}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, w, s.stderr
	require.NoError(t, cmd.Start())
	w.Close()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		r.Close()
	})
	go func() {
		_ = cmd.Wait()
		s.exited <- cmd.ProcessState.ExitCode()
	}()
	return s
}

// waitFor polls cond until it holds, failing after 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// TestRunSecondSignalExitsAtOnce answers 1000 requests with 16 KB each, to
// a pipe nobody reads: the run blocks in a write, where the first signal,
// which cancels, cannot stop it. The second signal exits at once, with
// status 130.
func TestRunSecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "big.json")
	require.NoError(t, os.WriteFile(config, []byte(`"`+strings.Repeat("a", 16000)+`"`), 0o600)) // echo's most
	requests := filepath.Join(dir, "requests.txt")
	require.NoError(t, os.WriteFile(requests, []byte(strings.Repeat("x\n", 1000)), 0o600))
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			stdin, err := os.Open(requests)
			require.NoError(t, err)
			defer stdin.Close()
			p := start(t, stdin, "run", hostFixture("echo.wasm"), "--config", "@"+config)
			// The pipe holds 64 KiB: once it is full, the run is blocked.
			waitFor(t, "standard output is full", func() bool {
				n, err := unix.IoctlGetInt(int(p.stdout.Fd()), unix.TIOCINQ) // FIONREAD
				return err == nil && n >= 64<<10
			})
			require.NoError(t, p.cmd.Process.Signal(sig))
			select {
			case status := <-p.exited:
				t.Fatalf("exited with %d on the first signal, while blocked writing: the test shows nothing", status)
			case <-time.After(300 * time.Millisecond):
			}
			require.NoError(t, p.cmd.Process.Signal(sig))
			sent := time.Now()
			select {
			case status := <-p.exited:
				assert.Equal(t, 130, status)
				assert.Less(t, time.Since(sent), time.Second)
			case <-time.After(10 * time.Second):
				t.Fatal("the second signal did not end the run")
			}
			assert.Contains(t, p.stderr.String(), "wasmreg: interrupted again: exiting at once\n")
		})
	}
}

// TestRunInterruptedWhileWaitingForInput interrupts a run that waits for a
// request on a pipe that stays open: the first signal ends it.
func TestRunInterruptedWhileWaitingForInput(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer w.Close()
	p := start(t, r, "run", hostFixture("echo.wasm"))
	r.Close()
	_, err = w.WriteString("x\n")
	require.NoError(t, err)
	line := make([]byte, 3)
	_, err = p.stdout.Read(line)
	require.NoError(t, err)
	assert.Equal(t, "{}\n", string(line), "answered while the pipe stays open")
	require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
	select {
	case status := <-p.exited:
		assert.Equal(t, 130, status)
	case <-time.After(10 * time.Second):
		t.Fatal("the run waiting for input did not stop on SIGINT")
	}
	assert.Equal(t, "wasmreg: interrupted after 1 request\n", p.stderr.String())
}
