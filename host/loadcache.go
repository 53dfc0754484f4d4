package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/wasmreg/wasmreg/host/internal/interrupt"
	"github.com/wasmreg/wasmreg/host/internal/loadcache"
	"github.com/wasmreg/wasmreg/host/internal/snapshot"
	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// The load cache: with a compilation cache directory, Load keeps what
// prepare computed for a module (the strict read's findings, the rewritten
// module and the rewrites' plans) in a subdirectory, so that the next
// process loading the same module with the same settings skips the strict
// read, both rewrites and the compile-cost check, which together take
// longer than wazero's cached compile of a Go guest (docs/PERFORMANCE.md,
// section 5). An entry is keyed by the module's digest, the running
// binary's build (its rewrites made the entry) and every setting prepare
// reads; it is hostile input like the module itself (package loadcache,
// docs/SECURITY.md): checksummed, bounded, decoded strictly, ignored on any
// mismatch.

// loadCacheSubdir is the load cache's directory under the compilation
// cache directory, beside wazero's.
const loadCacheSubdir = "wasmreg-load"

// loadCacheFields are an entry's fields: the findings as JSON, the module
// to compile, and the snapshot plan's encoding (empty without one).
const loadCacheFields = 3

// buildIdentity identifies the running binary's code, the rewrites that
// made the entries included: an entry another build made is never used.
// "" if the binary cannot be told apart from another build, and then the
// load cache is off. A process runs one binary, so it is read once.
var buildIdentity = sync.OnceValue(readBuildIdentity)

func readBuildIdentity() string {
	// The Go toolchain's build ID changes with any change to the code or
	// the toolchain that built it; on Linux it is an ELF note.
	if exe, err := os.Executable(); err == nil {
		if f, err := elf.Open(exe); err == nil {
			defer f.Close()
			if s := f.Section(".note.go.buildid"); s != nil && s.Size > 16 && s.Size < 4096 {
				if b, err := s.Data(); err == nil {
					return "go build ID " + string(b)
				}
			}
		}
	}
	// Elsewhere, a released version, or a clean checkout's revision.
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" && !strings.Contains(v, "+dirty") {
		return "build " + bi.String()
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["vcs.revision"] != "" && settings["vcs.modified"] == "false" {
		return "build " + bi.String()
	}
	return ""
}

// loadCacheOn reports whether Load uses the load cache.
func (h *Host) loadCacheOn() bool { return h.cfg.cacheDir != "" && buildIdentity() != "" }

// loadKey is the key of the entry for a module of the given digest: every
// input of prepare but the module's bytes, which the digest stands for.
func (h *Host) loadKey(digest string) [loadcache.KeySize]byte {
	c := &h.cfg
	var grants []string
	for name, ok := range c.grants {
		if ok {
			grants = append(grants, name)
		}
	}
	slices.Sort(grants)
	w := sha256.New()
	fmt.Fprintf(w, "wasmreg load cache %d\n%s\nmodule sha256:%s\n", loadcache.Version, buildIdentity(), digest)
	fmt.Fprintf(w, "limits %+v\nstack %d table %d memory %d\ninterrupt %t snapshots %t recycling %t ungranted %t\ngrants %q\n",
		c.moduleLimits, c.stackLimit, c.tableLimit, c.memoryLimit, !c.noInterrupt, !c.noSnapshots, c.recycle > 0, c.ungranted, grants)
	return [loadcache.KeySize]byte(w.Sum(nil))
}

func (h *Host) loadCachePath(key [loadcache.KeySize]byte) (dir, name string) {
	return filepath.Join(h.cfg.cacheDir, loadCacheSubdir), fmt.Sprintf("%x", key)
}

// maxLoadCacheEntry bounds the entry of a module of size bytes: the
// rewritten module is a few percent larger, and a plan's 12 bytes a
// segment are at most 4 times the segment's 3 bytes in the module.
func maxLoadCacheEntry(size int) int64 { return 6*int64(size) + 1<<20 }

// cachedFindings is an entry's first field: what prepare found, but the
// module and the snapshot plan.
type cachedFindings struct {
	Memory    wasmbin.MemoryType
	Tables    uint64
	NoRecycle *string // why the module's instances cannot be recycled; null if they can
	Snapshot  bool    // the module was rewritten for a snapshot: the third field is its plan
	Checks    *interrupt.Plan
	Shape     cachedShape
}

type cachedShape struct {
	Capabilities []string
	UsesWASI     bool
	Initialize   bool
	Start        bool
	Imports      []Import
	Exports      []string
}

// encodePrepared returns p's entry under key; wasm is the module p was
// prepared from.
func encodePrepared(key [loadcache.KeySize]byte, p prepared, wasm []byte) ([]byte, error) {
	s := p.shape
	f := cachedFindings{Memory: p.memory, Tables: p.tables, Snapshot: p.snapshot != nil, Checks: p.checks,
		Shape: cachedShape{Capabilities: s.capabilities, UsesWASI: s.usesWASI, Initialize: s.initialize,
			Start: s.start, Imports: s.imports, Exports: s.exports}}
	if p.noRecycle != nil {
		why := p.noRecycle.Error()
		f.NoRecycle = &why
	}
	findings, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	var plan []byte
	if p.snapshot != nil {
		if plan, err = p.snapshot.Encode(wasm); err != nil {
			return nil, err
		}
	}
	return loadcache.Encode(key, findings, p.wasm, plan), nil
}

// decodePrepared reads an entry under key for wasm strictly.
func decodePrepared(entry []byte, key [loadcache.KeySize]byte, wasm []byte) (prepared, error) {
	fields, err := loadcache.Decode(entry, key, loadCacheFields)
	if err != nil {
		return prepared{}, err
	}
	var f cachedFindings
	dec := json.NewDecoder(bytes.NewReader(fields[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return prepared{}, fmt.Errorf("%w: findings: %w", loadcache.ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return prepared{}, fmt.Errorf("%w: findings: bytes after the JSON value", loadcache.ErrCorrupt)
	}
	s := f.Shape
	p := prepared{wasm: fields[1], memory: f.Memory, tables: f.Tables, checks: f.Checks,
		shape: moduleShape{capabilities: s.Capabilities, usesWASI: s.UsesWASI, initialize: s.Initialize,
			start: s.Start, imports: s.Imports, exports: s.Exports}}
	if f.NoRecycle != nil {
		p.noRecycle = errors.New(*f.NoRecycle)
	}
	switch {
	case len(p.wasm) == 0:
		return prepared{}, fmt.Errorf("%w: no module", loadcache.ErrCorrupt)
	case f.Snapshot:
		if p.snapshot, err = snapshot.DecodePlan(fields[2], wasm); err != nil {
			return prepared{}, fmt.Errorf("%w: %w", loadcache.ErrCorrupt, err)
		}
	case len(fields[2]) != 0:
		return prepared{}, fmt.Errorf("%w: a snapshot plan without a snapshot", loadcache.ErrCorrupt)
	}
	return p, nil
}

// checkPrepared checks an entry's findings against what prepare could
// have found on this host, for a module of size bytes: the key already
// says the settings are the same, but a check costs nothing.
func (h *Host) checkPrepared(p prepared, size int) error {
	c := &h.cfg
	switch {
	case (p.checks == nil) != c.noInterrupt:
		return fmt.Errorf("%w: the interrupt checks are not as the host makes them", loadcache.ErrCorrupt)
	case p.snapshot != nil && (c.noSnapshots || c.grants[CapRandom] || c.grants[CapClock] || (size < snapshot.MinSize && c.recycle == 0)):
		return fmt.Errorf("%w: a snapshot plan where the host makes none", loadcache.ErrCorrupt)
	case uint64(p.memory.Min)*wasmPageSize > c.memoryLimit:
		return fmt.Errorf("%w: a memory over the host's limit", loadcache.ErrCorrupt)
	}
	return nil
}

// cachedPrepare returns the entry for wasm, of the given digest, if the
// load cache holds a sound one; on a miss it logs why at debug level.
func (h *Host) cachedPrepare(ctx context.Context, wasm []byte, digest string) (prepared, bool) {
	key := h.loadKey(digest)
	dir, name := h.loadCachePath(key)
	entry, err := loadcache.Read(filepath.Join(dir, name), maxLoadCacheEntry(len(wasm)), checkCacheFile)
	var p prepared
	if err == nil {
		p, err = decodePrepared(entry, key, wasm)
	}
	if err == nil {
		err = h.checkPrepared(p, len(wasm))
	}
	if err != nil {
		h.logger().LogAttrs(ctx, slog.LevelDebug, "load cache: no usable entry, preparing the module afresh",
			slog.String("module", "sha256:"+digest[:12]), slog.Any("reason", err))
		return prepared{}, false
	}
	return p, true
}

// storePrepared writes p, prepared from wasm, to the load cache; a
// failure only costs the next process the work, and is logged at debug
// level.
func (h *Host) storePrepared(ctx context.Context, wasm []byte, digest string, p prepared) {
	key := h.loadKey(digest)
	entry, err := encodePrepared(key, p, wasm)
	if err == nil {
		dir, name := h.loadCachePath(key)
		err = loadcache.Write(dir, name, entry)
	}
	if err != nil {
		h.logger().LogAttrs(ctx, slog.LevelDebug, "load cache: entry not written",
			slog.String("module", "sha256:"+digest[:12]), slog.Any("error", err))
	}
}
