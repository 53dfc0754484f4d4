//go:build linux

// Package ptytest opens pseudo-terminals for tests that need standard
// output or standard error to be a terminal: Linux only, with nothing but
// golang.org/x/sys/unix.
package ptytest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Pair is a pseudo-terminal: what is written to Tty is read from Master.
// The terminal does not post-process output (no LF to CRLF), so what a
// program writes arrives exactly. A Pair is safe for concurrent use.
type Pair struct {
	Master, Tty *os.File

	mu   sync.Mutex // guards out
	out  bytes.Buffer
	done chan struct{} // closed when Master reads an error (the Tty closed)
}

// Open opens a pair, and copies everything written to its terminal into a
// buffer that Output returns.
func Open() (*Pair, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	var name string
	rc, err := master.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			if err = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); err != nil {
				return
			}
			var n uint32
			if n, err = unix.IoctlGetUint32(int(fd), unix.TIOCGPTN); err == nil {
				name = fmt.Sprintf("/dev/pts/%d", n)
			}
		})
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		master.Close()
		return nil, fmt.Errorf("ptytest: unlock %s: %w", master.Name(), err)
	}
	tty, err := os.OpenFile(name, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, err
	}
	if err := raw(tty); err != nil {
		master.Close()
		tty.Close()
		return nil, err
	}
	p := &Pair{Master: master, Tty: tty, done: make(chan struct{})}
	go p.copy()
	return p, nil
}

// raw turns output post-processing off.
func raw(tty *os.File) error {
	rc, err := tty.SyscallConn()
	if err != nil {
		return err
	}
	var ioctlErr error
	err = rc.Control(func(fd uintptr) {
		var t *unix.Termios
		if t, ioctlErr = unix.IoctlGetTermios(int(fd), unix.TCGETS); ioctlErr != nil {
			return
		}
		t.Oflag &^= unix.OPOST
		ioctlErr = unix.IoctlSetTermios(int(fd), unix.TCSETS, t)
	})
	if err != nil {
		return err
	}
	return ioctlErr
}

func (p *Pair) copy() {
	defer close(p.done)
	buf := make([]byte, 4096)
	for {
		n, err := p.Master.Read(buf)
		p.mu.Lock()
		p.out.Write(buf[:n])
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// Output closes the terminal (a child that has it open keeps it open),
// waits until everything written to it has been read, and returns it.
func (p *Pair) Output() []byte {
	p.Tty.Close()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.out.Bytes())
}

// Close closes both ends.
func (p *Pair) Close() error {
	p.Tty.Close()
	err := p.Master.Close()
	<-p.done
	return err
}

var _ io.Closer = (*Pair)(nil)
