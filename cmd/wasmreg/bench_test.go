package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkRunStartup times whole runs of the binary on its built-in
// default (the Go digits MLP factory), with an empty compilation cache
// ("cold": wazero compiles the 3.7 MB guest) and with the cache the first
// run left ("warm"). make bench prints how many times faster the warm run
// is: performance goal 6.
func BenchmarkRunStartup(b *testing.B) {
	run := func(b *testing.B, cache string) {
		cmd := exec.Command(binary, "--cache-dir", cache, "run")
		cmd.Dir = b.TempDir() // the binary carries everything it runs
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("wasmreg run: %v\n%s", err, out)
		}
	}
	b.Run("cold", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			cache := filepath.Join(b.TempDir(), "cache")
			run(b, cache)
			b.StopTimer()
			_ = os.RemoveAll(cache)
			b.StartTimer()
		}
	})
	b.Run("warm", func(b *testing.B) {
		cache := filepath.Join(b.TempDir(), "cache")
		run(b, cache) // fills the cache
		for b.Loop() {
			run(b, cache)
		}
	})
}
