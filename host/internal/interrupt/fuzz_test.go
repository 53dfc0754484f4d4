package interrupt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// compileRecovering compiles wasm, turning a panic of wazero's into an
// error.
func compileRecovering(ctx context.Context, r wazero.Runtime, wasm []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("wazero panicked: %v", p)
		}
	}()
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return err
	}
	return compiled.Close(ctx)
}

func fuzzSeeds(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.wasm")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// FuzzInstrument feeds arbitrary bytes to Instrument: whatever
// wasmbin.Decode accepts and wazero compiles, Instrument rewrites (or
// refuses for a reason of its own), the rewrite decodes as strictly and
// compiles, and every loop of the module is checked.
func FuzzInstrument(f *testing.F) {
	fuzzSeeds(f)
	for _, seed := range [][]byte{{3, 5, 3, 4, 9, 10, 17, 6, 2}, {0}, {1, 2, 14, 15, 16, 12, 8}} {
		f.Add(genModule(seed))
	}
	ctx := context.Background()
	r := newRuntime(f)
	f.Fuzz(func(t *testing.T, wasm []byte) {
		m, err := wasmbin.Decode(wasm, wasmbin.DefaultLimits())
		if err != nil {
			return
		}
		if err := compileRecovering(ctx, r, wasm); err != nil {
			return
		}
		out, plan, err := Instrument(m, Options{})
		if err != nil {
			// Only refusals: no body of Decode's fails to read back.
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Instrument: %v", err)
			}
			return
		}
		loops := 0
		for _, c := range m.Code {
			loops += int(c.Loops)
		}
		if plan.Loops != loops || plan.Functions != len(m.Code) {
			t.Fatalf("plan %+v for %d functions, %d loops", plan, len(m.Code), loops)
		}
		if _, err := wasmbin.Decode(out, wasmbin.Limits{}); err != nil {
			t.Fatalf("the rewrite does not decode: %v", err)
		}
		if err := compileRecovering(ctx, r, out); err != nil {
			t.Fatalf("wazero compiles the module but not its rewrite: %v", err)
		}
	})
}

// FuzzInstrumentSemantics builds a small module from the fuzzer's bytes
// (genModule), rewrites it and calls every export with the same arguments
// on both: with the flag down, the same results and traps, and the same
// memory afterwards.
func FuzzInstrumentSemantics(f *testing.F) {
	for _, seed := range [][]byte{{3, 5, 3, 4, 9, 10, 17, 6, 2}, {0}, {1, 2, 14, 15, 16, 12, 8}, {2, 4, 6, 7, 8, 5, 5, 17, 3, 3, 3}} {
		f.Add(seed)
	}
	ctx := context.Background()
	r := newRuntime(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		wasm := genModule(data)
		m, err := wasmbin.Decode(wasm, wasmbin.DefaultLimits())
		if err != nil {
			t.Fatalf("generated module does not decode: %v", err)
		}
		out, _, err := Instrument(m, Options{})
		if err != nil {
			t.Fatalf("Instrument: %v", err)
		}
		orig, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatalf("generated module does not instantiate: %v", err)
		}
		defer orig.Close(ctx)
		rw, err := r.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatalf("the rewrite does not instantiate: %v", err)
		}
		defer rw.Close(ctx)
		for i := range len(m.Code) {
			name := fmt.Sprintf("f%d", i)
			for _, arg := range []uint64{0, 1, 7, 0xfffffffd} {
				want := outcome(orig.ExportedFunction(name).Call(ctx, arg))
				got := outcome(rw.ExportedFunction(name).Call(ctx, arg))
				if want != got {
					t.Fatalf("%s(%d): %s, rewritten %s", name, arg, want, got)
				}
			}
		}
		a, _ := orig.Memory().Read(0, orig.Memory().Size())
		b, _ := rw.Memory().Read(0, rw.Memory().Size())
		if string(a) != string(b) {
			t.Fatal("the memories differ")
		}
	})
}
