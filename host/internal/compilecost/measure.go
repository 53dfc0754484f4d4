package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero"
)

// Each measurement compiles one module in a fresh child process (this
// program re-executed with -child), so that neither the other runs' heap
// nor a previous compile's garbage pollutes the figures, and a compile that
// runs away can be killed.

// result is one measurement.
type result struct {
	Bytes       int     `json:"bytes"`
	CompileSec  float64 `json:"compile_s"`     // wall time of CompileModule, in the child
	CPUSec      float64 `json:"cpu_s"`         // user+sys time of the child during CompileModule
	ProcCPUSec  float64 `json:"proc_cpu_s"`    // user+sys time of the whole child (rusage)
	MaxRSSMiB   float64 `json:"max_rss_mib"`   // the child's peak resident set (VmHWM)
	PeakHeapMiB float64 `json:"peak_heap_mib"` // the child's peak live Go heap, sampled
	AllocMiB    float64 `json:"alloc_mib"`     // bytes allocated during CompileModule
	Err         string  `json:"err,omitempty"` // CompileModule's error
	Killed      string  `json:"killed,omitempty"`
}

func (r result) failed() bool { return r.Err != "" || r.Killed != "" }

// status is a short word for a table cell.
func (r result) status() string {
	switch {
	case r.Killed != "":
		return "killed (" + r.Killed + ")"
	case r.Err != "":
		return "error"
	}
	return "ok"
}

// budget bounds one child.
type budget struct {
	timeout  time.Duration
	rssLimit uint64 // bytes; the child is killed past it
}

// measure compiles wasm in a child process.
func measure(wasm []byte, b budget) (result, error) {
	f, err := os.CreateTemp("", "compilecost-*.wasm")
	if err != nil {
		return result{}, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(wasm); err != nil {
		f.Close()
		return result{}, err
	}
	if err := f.Close(); err != nil {
		return result{}, err
	}
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "-child", f.Name())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	var overMemory atomic.Bool
	var lastRSS atomic.Uint64
	done := make(chan struct{})
	go func() { // kill the child when its resident set passes the limit
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				rss, ok := residentBytes(cmd.Process.Pid)
				if ok && rss > lastRSS.Load() {
					lastRSS.Store(rss)
				}
				if ok && rss > b.rssLimit {
					overMemory.Store(true)
					_ = cmd.Process.Kill()
					return
				}
			}
		}
	}()
	waitErr := cmd.Wait()
	close(done)

	r := result{Bytes: len(wasm)}
	// The child's rusage gives its CPU time, but not its peak RSS: Linux
	// carries the parent's high-water mark across the vfork and exec, so
	// the child reports its own VmHWM; a killed child's is the RSS last seen.
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.ProcCPUSec = seconds(ru.Utime) + seconds(ru.Stime)
	}
	r.MaxRSSMiB = float64(lastRSS.Load()) / (1 << 20)
	switch {
	case overMemory.Load():
		r.Killed = "memory"
	case ctx.Err() != nil:
		r.Killed = "time"
	case waitErr != nil:
		r.Killed = "crash: " + lastLine(stderr.String())
	default:
		var c result
		if err := json.Unmarshal(stdout.Bytes(), &c); err != nil {
			return r, fmt.Errorf("compilecost: child output %q: %w", stdout.String(), err)
		}
		r.CompileSec, r.CPUSec, r.PeakHeapMiB, r.AllocMiB, r.Err = c.CompileSec, c.CPUSec, c.PeakHeapMiB, c.AllocMiB, c.Err
		r.MaxRSSMiB = c.MaxRSSMiB
	}
	return r, nil
}

// lastLine picks the reason a child died from its stderr: the runtime's
// "fatal error" or "panic" line if there is one, else the last line.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "panic:") {
			return l
		}
	}
	if l := lines[len(lines)-1]; l != "" {
		return l
	}
	return "exit"
}

func residentBytes(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize()), err == nil
}

func seconds(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// profileEnv names a file for the child's CPU profile of CompileModule
// (mode one's -cpuprofile).
const profileEnv = "COMPILECOST_CPUPROFILE"

// child compiles the module at path with wazero's compiler and default core
// features, as the host does, and writes its figures to stdout as JSON.
func child(path string) error {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())

	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go sampleHeap(&peak, stop, sampled)

	if prof := os.Getenv(profileEnv); prof != "" {
		pf, err := os.Create(prof)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	var before, after syscall.Rusage
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	_, cerr := rt.CompileModule(ctx, wasm)
	elapsed := time.Since(start)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	close(stop)
	<-sampled
	runtime.ReadMemStats(&ms1)

	r := result{
		CompileSec:  elapsed.Seconds(),
		CPUSec:      seconds(after.Utime) + seconds(after.Stime) - seconds(before.Utime) - seconds(before.Stime),
		PeakHeapMiB: float64(peak.Load()) / (1 << 20),
		AllocMiB:    float64(ms1.TotalAlloc-ms0.TotalAlloc) / (1 << 20),
	}
	if cerr != nil {
		r.Err = cerr.Error()
	}
	if hwm, ok := highWaterRSS(); ok {
		r.MaxRSSMiB = float64(hwm) / (1 << 20)
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// sampleHeap records the largest live heap it sees until stop closes.
func sampleHeap(peak *atomic.Uint64, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		metrics.Read(s)
		if v := s[0].Value.Uint64(); v > peak.Load() {
			peak.Store(v)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// highWaterRSS is this process's peak resident set, VmHWM in
// /proc/self/status.
func highWaterRSS() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseUint(f[0], 10, 64)
				return kb << 10, err == nil
			}
		}
	}
	return 0, false
}
