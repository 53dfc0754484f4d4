// Command precompile compiles factory modules into a wazero compilation
// cache directory. go_sdk_test.go runs it, built without the race
// detector, so that its -race test binary loads the Go factories' compiled
// code from the cache: wazero compiles a Go module in about a second, but
// in 20 s or more under -race.
//
//	go run ./examples/factories/testdata/precompile -dir DIR FILE.wasm...
//
// wazero keys the cache by its own version, read from the build info; a
// test binary has none and says "dev", so the tests build this tool with
// -ldflags=-X=github.com/tetratelabs/wazero/internal/version.version=dev.
//
// A module that does not load (a missing grant, bad metadata) is still
// compiled and cached; its error is reported and the exit status is 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/wasmreg/wasmreg/host"
)

func main() {
	dir := flag.String("dir", "", "compilation cache `directory`")
	flag.Parse()
	if err := run(*dir, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "precompile:", err)
		os.Exit(1)
	}
}

func run(dir string, files []string) error {
	ctx := context.Background()
	h, err := host.New(ctx,
		host.WithCompilationCacheDir(dir),
		host.WithGrants(host.CapClock, host.CapRandom, host.CapArtifact),
		host.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return err
	}
	defer h.Close(ctx)
	var errs []error
	for _, file := range files {
		wasm, err := os.ReadFile(file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// A module that traps at load (a test of a trap's reason) was
		// compiled, and so cached, all the same.
		if _, err := h.Load(ctx, wasm); err != nil && !errors.Is(err, host.ErrTrap) {
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
		}
	}
	return errors.Join(errs...)
}
