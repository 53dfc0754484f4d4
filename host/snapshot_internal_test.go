package host

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzRewriteForSnapshot feeds arbitrary bytes to the snapshot rewrite,
// which reads module files before wazero has validated them: it may refuse
// them, never panic or loop for long.
func FuzzRewriteForSnapshot(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.wasm")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x06\x05\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, plan, err := rewriteForSnapshot(wasm)
		if err != nil {
			return
		}
		if len(out) < 8 || plan == nil {
			t.Fatalf("rewrite returned %d bytes and plan %v", len(out), plan)
		}
	})
}

func TestRewriteForSnapshot(t *testing.T) {
	wasm, err := os.ReadFile("testdata/guest.wasm")
	if err != nil {
		t.Fatal(err)
	}
	out, plan, err := rewriteForSnapshot(wasm)
	if err != nil {
		t.Fatal(err)
	}
	// guest.wat has three mutable globals and seven data segments.
	if len(plan.globals) != 3 || len(plan.segments) != 7 {
		t.Fatalf("plan: %d globals, %d segments", len(plan.globals), len(plan.segments))
	}
	if _, _, err := rewriteForSnapshot(out); err != nil {
		t.Fatalf("the rewrite of a rewrite: %v", err)
	}
}
