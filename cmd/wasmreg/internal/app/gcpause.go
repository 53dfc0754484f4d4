package app

import (
	"os"
	"runtime/debug"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/wasmreg/wasmreg/host"
)

// The start-up of a run, loading a module and building its model, allocates
// several times the module's size and keeps a part of it: wazero's decoded
// module (and, outside Linux, where the host does not map guest memory, the
// guest's linear memory) on the Go heap, over which the collector, at its
// default pace, runs a few times and frees little (docs/PERFORMANCE.md,
// section 5, "What changed", holds the measurements). So run pauses the
// collector until its model is built. The pause is bounded: past a soft
// memory limit well above what the start-up keeps, the collector runs
// again.

// gcPause is the collector's state before the first pause in effect. The
// collector's settings are the process's, so pauses (concurrent runs in
// tests) nest and the last to end restores them.
var gcPause struct {
	mu      sync.Mutex // protects the fields below
	n       int        // pauses in effect
	percent int        // GOGC before the first pause
	limit   int64      // the memory limit before the first pause
}

// pauseGC turns the garbage collector off until the heap reaches limit bytes
// (a soft limit, debug.SetMemoryLimit) and returns the function that turns
// it back on, which may be called more than once. With GOGC or GOMEMLIMIT
// set in the environment, the user's setting stands and pauseGC does
// nothing. It is safe for concurrent use.
func pauseGC(limit int64) (resume func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	gcPause.mu.Lock()
	defer gcPause.mu.Unlock()
	gcPause.n++
	if gcPause.n == 1 {
		gcPause.percent = debug.SetGCPercent(-1)
		gcPause.limit = debug.SetMemoryLimit(limit)
	} else if limit > debug.SetMemoryLimit(-1) { // a nested pause may need more
		debug.SetMemoryLimit(limit)
	}
	return sync.OnceFunc(func() {
		gcPause.mu.Lock()
		defer gcPause.mu.Unlock()
		gcPause.n--
		if gcPause.n == 0 {
			debug.SetGCPercent(gcPause.percent)
			debug.SetMemoryLimit(gcPause.limit)
		}
	})
}

// startupHeapLimit is the heap a run's start-up may grow to with the
// collector paused: well above the ~9× the module's size it allocates, and
// room for the linear memory of two instances (the one Load reads the
// metadata with, and the model's) at memoryLimit each.
func startupHeapLimit(moduleSize int, memoryLimit uint64) int64 {
	return 64<<20 + 16*int64(moduleSize) + 2*int64(memoryLimit)
}

// memoryLimit is the value of --memory-limit, or the host's default if it
// is not a size (the host options report that, and what else is wrong).
func memoryLimit(cCtx *cli.Context) uint64 {
	if n, err := ParseSize(cCtx.String(flagMemoryLimit)); err == nil {
		return n
	}
	return host.DefaultMemoryLimit
}
