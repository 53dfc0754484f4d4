//go:build unix

package loadcache

import "syscall"

// openNoFollow makes Read's open fail on a symbolic link.
const openNoFollow = syscall.O_NOFOLLOW
