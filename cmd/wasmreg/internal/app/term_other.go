//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package app

import "os"

// isTerminalFile takes any character device for a terminal where terminal
// attributes cannot be read: escaping a response to a device that is not
// one costs nothing.
func isTerminalFile(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
