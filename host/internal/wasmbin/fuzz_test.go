package wasmbin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"

	"github.com/wasmreg/wasmreg/host/internal/wazeroerr"
	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

// noLimits are limits so large that only the module's own bytes bound
// it: the differential targets compare what Decode reads, not where the
// host draws its lines.
var noLimits = Limits{}

// seedCorpus adds the small real modules, every instruction and section
// test's module, and the C factories.
func seedCorpus(f *testing.F) {
	root, err := wasmbuild.RepoRoot()
	require.NoError(f, err)
	for _, pattern := range []string{"host/testdata/*.wasm", "host/testdata/hostile/*.wasm", "host/internal/wasmbin/testdata/*.wasm"} {
		paths, err := filepath.Glob(filepath.Join(root, pattern))
		require.NoError(f, err)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			require.NoError(f, err)
			if len(b) <= 64<<10 {
				f.Add(b)
			}
		}
	}
	for _, tc := range instrTests {
		f.Add(rich(tc.fnType, tc.code...).bytes())
	}
	for _, tc := range sectionTests {
		f.Add(tc.wasm)
	}
	// The C factories, built unless -short; the Go modules are too large
	// for a fuzzer's input (wazero takes seconds to compile each).
	for name, wasm := range realModules(f) {
		if strings.HasPrefix(name, "factories/") && len(wasm) <= 128<<10 {
			f.Add(wasm)
		}
	}
}

// decodeAllocs decodes wasm and returns the bytes allocated meanwhile
// (of the whole process, so an over-estimate).
func decodeAllocs(wasm []byte, lim Limits) (*Module, uint64, error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := Decode(wasm, lim)
	runtime.ReadMemStats(&after)
	return m, after.TotalAlloc - before.TotalAlloc, err
}

// allocBound is what decoding n bytes may allocate: a small multiple of
// n (the index spaces, the names, one Code and Section per entry) and a
// constant.
func allocBound(n int) uint64 { return 64*uint64(n) + 1<<20 }

// checkModule checks what any Module Decode returns must satisfy: each
// body reads again with Instructions to what Decode recorded, and its
// compile-cost figures are consistent.
func checkModule(t *testing.T, m *Module) {
	for i, c := range m.Code {
		r := m.Instructions(i)
		var n, loops uint32
		for r.Next() {
			n++
			if r.Instr().Op == OpLoop {
				loops++
			}
		}
		require.NoError(t, r.Err())
		require.Equal(t, c.Instructions, n)
		require.Equal(t, c.Loops, loops)
		// The estimate's counts hold together.
		require.LessOrEqual(t, c.Merges, c.Blocks)
		require.LessOrEqual(t, c.BrTargets, c.Control)
		require.LessOrEqual(t, c.Loops, c.Control)
		require.Positive(t, c.Cost)
	}
	require.GreaterOrEqual(t, float64(m.CompileCost()), m.compileCost())
}

// FuzzDecode: Decode never panics, allocates no more than a few times
// the module's size whatever it declares, and returns only modules whose
// bodies read again to the same counts.
func FuzzDecode(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, wasm []byte) {
		for _, lim := range []Limits{noLimits, DefaultLimits()} {
			m, allocated, err := decodeAllocs(wasm, lim)
			require.LessOrEqual(t, allocated, allocBound(len(wasm)), "a %d-byte module", len(wasm))
			if err != nil {
				require.True(t, errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnsupported) ||
					errors.Is(err, ErrInvalidIndex) || errors.Is(err, ErrLimit), "an error of no sentinel: %v", err)
				continue
			}
			checkModule(t, m)
		}
	})
}

var (
	fuzzRuntime wazero.Runtime // one per fuzzing process

	// errNotCompiled is wazeroVerdict's answer for a module that could make
	// wazero allocate what it declares (see wazeroSafe).
	errNotCompiled = errors.New("not given to wazero")
)

// wazeroVerdict compiles wasm with one interpreter runtime kept for the
// process, which is faster than wazeroCompile's runtime per module.
func wazeroVerdict(wasm []byte) (err error) {
	if !wazeroSafe(wasm) {
		return errNotCompiled
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("wazero panicked: %v", p)
		}
	}()
	ctx := context.Background()
	if fuzzRuntime == nil {
		fuzzRuntime = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	}
	c, err := fuzzRuntime.CompileModule(ctx, wasm)
	if err == nil {
		_ = c.Close(ctx)
	}
	return err
}

// checkDifferential is the property of the differential targets: a module
// wazero compiles decodes, unless it uses one of the documented encodings
// Decode refuses; and a module Decode accepts is not one that wazero
// refuses for an index or that crashes wazero.
func checkDifferential(t *testing.T, wasm []byte) (*Module, bool) {
	werr := wazeroVerdict(wasm)
	if werr == errNotCompiled {
		return nil, false
	}
	m, err := Decode(wasm, noLimits)
	if werr == nil {
		if err != nil {
			require.ErrorIs(t, err, ErrUnsupported, "wazero compiles a module Decode refuses")
			require.True(t, isDocumented(err), "wazero compiles a module Decode refuses for an undocumented reason: %v", err)
			return nil, false
		}
		return m, true
	}
	if err == nil {
		msg := werr.Error()
		require.NotContains(t, msg, "wazero panicked", "a module Decode accepts crashes wazero")
		require.False(t, wazeroerr.Matches(werr, wazeroerr.IndexFragments), "wazero refuses an index Decode missed: %s", msg)
	}
	return nil, false
}

// FuzzDecodeWazero is the differential target against wazero v1.12.
func FuzzDecodeWazero(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, wasm []byte) {
		if m, ok := checkDifferential(t, wasm); ok {
			checkModule(t, m)
		}
	})
}

// FuzzDecodeObjdump is the differential target against wabt's
// wasm-objdump, a decoder independent of wazero: for every module wazero
// compiles, Decode's functions, loops and instructions are
// wasm-objdump's.
func FuzzDecodeObjdump(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, wasm []byte) {
		m, ok := checkDifferential(t, wasm)
		if !ok {
			return
		}
		want, ok := objdump(t, wasm)
		if !ok {
			// wabt refuses some encodings wazero and Decode both read the
			// same way (the unchecked bit 6 of a 5-byte s32, say).
			return
		}
		assert.Equal(t, want, counts(m))
	})
}

// TestHugeCounts: declared counts far beyond the module's bytes are
// refused before anything is allocated for them (wazero's decoder
// allocates per declared entry; 2^32-1 locals once killed the process).
func TestHugeCounts(t *testing.T) {
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0x0f}
	sec := func(id SectionID, payload ...byte) []byte { return AppendSection(nil, id, payload) }
	typ := sec(SecType, 1, 0x60, 0, 0)
	fnsec := sec(SecFunction, 1, 0)
	tests := []struct {
		name string
		wasm []byte
	}{
		{"types", cat(header, sec(SecType, huge...))},
		{"params", cat(header, sec(SecType, append([]byte{1, 0x60}, huge...)...))},
		{"imports", cat(header, sec(SecImport, huge...))},
		{"import name", cat(header, sec(SecImport, append([]byte{1}, huge...)...))},
		{"functions", cat(header, typ, sec(SecFunction, huge...))},
		{"tables", cat(header, sec(SecTable, huge...))},
		{"globals", cat(header, sec(SecGlobal, huge...))},
		{"exports", cat(header, sec(SecExport, huge...))},
		{"elements", cat(header, sec(SecElement, huge...))},
		{"element functions", cat(header, typ, fnsec, sec(SecTable, 1, 0x70, 0, 1), sec(SecElement, append([]byte{1, 0, 0x41, 0, 0x0b}, huge...)...))},
		{"bodies", cat(header, typ, fnsec, sec(SecCode, huge...))},
		{"local declarations", cat(header, typ, fnsec, sec(SecCode, append([]byte{1, 10}, append(huge, 0x7f, 0x0b, 0, 0, 0)...)...))},
		{"locals", cat(header, typ, fnsec, sec(SecCode, cat([]byte{1, 8, 1}, huge, []byte{0x7f, 0x0b})...))},
		{"br_table", cat(header, typ, fnsec, sec(SecCode, cat([]byte{1, 10, 0, 0x41, 0, 0x0e}, huge, []byte{0x0b})...))},
		{"data", cat(header, sec(SecData, huge...))},
		{"data bytes", cat(header, sec(SecMemory, 1, 0, 1), sec(SecData, cat([]byte{1, 0, 0x41, 0, 0x0b}, huge)...))},
		{"section size", cat(header, []byte{byte(SecCustom)}, huge, []byte{1, 'x'})},
		{"function names", cat(header, sec(SecCustom, cat(name("name"), []byte{1, 5}, huge)...))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, lim := range []Limits{noLimits, DefaultLimits()} {
				_, allocated, err := decodeAllocs(tc.wasm, lim)
				assert.Less(t, allocated, uint64(1<<20), "allocated %d bytes", allocated)
				if lim == noLimits && err == nil {
					continue // 2^32-1 locals are only a number to Decode
				}
				require.Error(t, err)
				assert.True(t, errors.Is(err, ErrMalformed) || errors.Is(err, ErrLimit), "%v", err)
			}
		})
	}
}

// FuzzBody is both differential targets with the mutations all in one
// function body, of rich's type 0 or 1 (fnType's low bit), where
// random bytes meet every instruction family far more often than in a
// whole module.
func FuzzBody(f *testing.F) {
	for _, tc := range instrTests {
		f.Add(tc.fnType&1 != 0, tc.code)
	}
	f.Add(false, cat([]byte{0x02, 0x80, 0x80, 0x80, 0x80, 0x00, 0x03, 0x40, 0x0b, 0x0b, 0x0b}))
	f.Fuzz(func(t *testing.T, param bool, code []byte) {
		fnType := uint32(0)
		if param {
			fnType = 1
		}
		wasm := rich(fnType, code...).bytes()
		m, ok := checkDifferential(t, wasm)
		if !ok {
			return
		}
		checkModule(t, m)
		if want, ok := objdump(t, wasm); ok {
			assert.Equal(t, want, counts(m))
		}
	})
}
