//go:build linux

package budget

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// SystemMemory returns the machine's physical memory and the memory limit
// of the process's cgroup, in bytes; zero for what it cannot read or for
// no limit.
func SystemMemory() (physical, cgroup uint64) {
	return physicalMemory("/proc/meminfo"), cgroupMemoryLimit("/proc/self/cgroup", "/sys/fs/cgroup")
}

// physicalMemory reads MemTotal from meminfo (a /proc/meminfo), or asks
// sysinfo(2) if it cannot.
func physicalMemory(meminfo string) uint64 {
	if b, err := os.ReadFile(meminfo); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			// "MemTotal:       24576000 kB"
			fields := strings.Fields(sc.Text())
			if len(fields) == 3 && fields[0] == "MemTotal:" && fields[2] == "kB" {
				if kb, err := strconv.ParseUint(fields[1], 10, 64); err == nil && kb > 0 && kb < 1<<50 {
					return kb << 10
				}
			}
		}
	}
	var info unix.Sysinfo_t
	if unix.Sysinfo(&info) != nil {
		return 0
	}
	return uint64(info.Totalram) * uint64(info.Unit)
}

// cgroupMemoryLimit returns the tightest memory limit on the process's
// cgroup, which procCgroup (a /proc/self/cgroup) names, under root (a
// /sys/fs/cgroup): cgroup v2's memory.max (under root, or root/unified on
// a hybrid system), and v1's memory.limit_in_bytes under root/memory, of
// the cgroup and of each of its ancestors, as a
// parent's limit bounds its children. Inside a container the named path
// may not exist under root, whose top is then the container's own cgroup:
// walking up reaches it. Zero means no limit found.
func cgroupMemoryLimit(procCgroup, root string) uint64 {
	b, err := os.ReadFile(procCgroup)
	if err != nil {
		return 0
	}
	var limit uint64
	tighten := func(n uint64) {
		if n != 0 && (limit == 0 || n < limit) {
			limit = n
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// "0::/user.slice/session.scope" (v2) or "4:memory:/docker/abc" (v1).
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			// v2 is at root, or at root/unified beside v1 (hybrid).
			tighten(cgroupWalk(root, parts[2], "memory.max"))
			tighten(cgroupWalk(path.Join(root, "unified"), parts[2], "memory.max"))
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			tighten(cgroupWalk(path.Join(root, "memory"), parts[2], "memory.limit_in_bytes"))
		}
	}
	return limit
}

// cgroupWalk reads file in the cgroup dir under base and in each of its
// ancestors up to base itself, and returns the smallest limit found.
func cgroupWalk(base, dir, file string) uint64 {
	var limit uint64
	for dir = path.Clean("/" + dir); ; dir = path.Dir(dir) {
		if n := readCgroupLimit(path.Join(base, dir, file)); n != 0 && (limit == 0 || n < limit) {
			limit = n
		}
		if dir == "/" {
			return limit
		}
	}
}

// readCgroupLimit reads a memory limit file: zero if it is missing,
// unreadable, "max" (v2's no limit), or absurd: zero, or 2^60 bytes or
// more (v1 writes its no limit as about 2^63).
func readCgroupLimit(file string) uint64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n >= 1<<60 {
		return 0
	}
	return n
}
