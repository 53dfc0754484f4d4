//go:build linux

package budget

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// writeFiles writes files (relative path → contents) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, contents := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, []byte(contents), 0o600))
	}
}

func TestCgroupMemoryLimit(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name  string
		proc  string            // /proc/self/cgroup
		files map[string]string // under /sys/fs/cgroup
		want  uint64
	}{
		{"v2 limit", "0::/app\n", map[string]string{"app/memory.max": "2147483648\n"}, 2 * gib},
		{"v2 max", "0::/app\n", map[string]string{"app/memory.max": "max\n"}, 0},
		{"v2 parent's limit", "0::/a/b\n", map[string]string{"a/b/memory.max": "max\n", "a/memory.max": "1073741824\n"}, gib},
		{"v2 tightest of child and parent", "0::/a/b\n", map[string]string{"a/b/memory.max": "536870912\n", "a/memory.max": "1073741824\n"}, gib / 2},
		{"v2 in a container: the path is not under root", "0::/system.slice/docker-1.scope\n",
			map[string]string{"memory.max": "3221225472\n"}, 3 * gib},
		{"v2 no limit file", "0::/app\n", map[string]string{"app/cgroup.procs": "1\n"}, 0},
		{"v2 absurd", "0::/app\n", map[string]string{"app/memory.max": "0\n"}, 0},
		{"v2 garbage", "0::/app\n", map[string]string{"app/memory.max": "lots\n"}, 0},
		{"v1 limit", "12:cpu,cpuacct:/x\n4:memory:/docker/abc\n",
			map[string]string{"memory/docker/abc/memory.limit_in_bytes": "1073741824\n"}, gib},
		{"v1 no limit", "4:memory:/docker/abc\n",
			map[string]string{"memory/docker/abc/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		{"v1 among other controllers", "4:blkio,memory:/\n", map[string]string{"memory/memory.limit_in_bytes": "4294967296\n"}, 4 * gib},
		{"hybrid: v2 under unified", "4:memory:/s\n0::/s\n",
			map[string]string{"memory/s/memory.limit_in_bytes": "9223372036854771712\n", "unified/s/memory.max": "2147483648\n"}, 2 * gib},
		{"hybrid: the tighter", "4:memory:/s\n0::/s\n",
			map[string]string{"memory/s/memory.limit_in_bytes": "4294967296\n", "s/memory.max": "2147483648\n"}, 2 * gib},
		{"dot-dots stay under root", "0::/../../etc\n", map[string]string{"etc/memory.max": "1073741824\n"}, gib},
		{"malformed lines", "garbage\n\n0:/only-two\n", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, "sys", "fs", "cgroup")
			require.NoError(t, os.MkdirAll(root, 0o700))
			writeFiles(t, root, tc.files)
			proc := filepath.Join(dir, "cgroup")
			require.NoError(t, os.WriteFile(proc, []byte(tc.proc), 0o600))
			assert.Equal(t, tc.want, cgroupMemoryLimit(proc, root))
		})
	}
	t.Run("no /proc/self/cgroup", func(t *testing.T) {
		assert.Zero(t, cgroupMemoryLimit(filepath.Join(t.TempDir(), "missing"), t.TempDir()))
	})
}

func TestPhysicalMemory(t *testing.T) {
	var info unix.Sysinfo_t
	require.NoError(t, unix.Sysinfo(&info))
	sysinfo := uint64(info.Totalram) * uint64(info.Unit)
	require.NotZero(t, sysinfo)

	dir := t.TempDir()
	meminfo := filepath.Join(dir, "meminfo")
	require.NoError(t, os.WriteFile(meminfo, []byte("MemTotal:        1000 kB\nMemFree:          500 kB\n"), 0o600))
	assert.Equal(t, uint64(1000<<10), physicalMemory(meminfo))
	require.NoError(t, os.WriteFile(meminfo, []byte("MemTotal: lots\n"), 0o600))
	assert.Equal(t, sysinfo, physicalMemory(meminfo), "unreadable: sysinfo(2)")
	assert.Equal(t, sysinfo, physicalMemory(filepath.Join(dir, "missing")), "missing: sysinfo(2)")
	// The real file agrees with sysinfo(2).
	assert.Equal(t, sysinfo, physicalMemory("/proc/meminfo"))
}
