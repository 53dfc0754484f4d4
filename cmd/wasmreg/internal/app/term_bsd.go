//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package app

import (
	"os"

	"golang.org/x/sys/unix"
)

// isTerminalFile reports whether f has terminal attributes.
func isTerminalFile(f *os.File) bool {
	// Through SyscallConn, not Fd, which would make the file blocking.
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	term := false
	err = rc.Control(func(fd uintptr) {
		_, ioctlErr := unix.IoctlGetTermios(int(fd), unix.TIOCGETA)
		term = ioctlErr == nil
	})
	return err == nil && term
}
