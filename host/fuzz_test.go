package host_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmreg/wasmreg/host"
)

// FuzzLoad feeds arbitrary bytes to Load, and builds and predicts with what
// loads: nothing may panic, and every failure wraps a host sentinel.
func FuzzLoad(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.wasm")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte{})
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	h, _ := newHost(f, allCaps, host.WithCallTimeout(100*time.Millisecond), host.WithOutputLimit(1<<16))
	sentinels := []error{host.ErrInvalidModule, host.ErrModuleTooLarge, host.ErrABIVersion, host.ErrMissingExport,
		host.ErrUnknownImport, host.ErrUnknownCapability, host.ErrNotGranted, host.ErrBadMetadata, host.ErrMemoryLimit,
		host.ErrOutputLimit, host.ErrTimeout, host.ErrTrap, host.ErrGuest, host.ErrOutOfBounds, host.ErrOutsideCall}
	f.Fuzz(func(t *testing.T, wasm []byte) {
		ctx := context.Background()
		fac, err := h.Load(ctx, wasm)
		if err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("Load error wraps no host sentinel: %v", err)
		}
		defer fac.Close(ctx)
		m, err := fac.Build(ctx, []byte(`{}`))
		if err != nil {
			return
		}
		_, _ = m.Predict(ctx, wasm[:min(len(wasm), 64)])
		_ = m.Close(ctx)
	})
}

// FuzzPredict sends arbitrary configs and requests through the test guest,
// whose behaviour the first bytes select: nothing may panic or hang.
func FuzzPredict(f *testing.F) {
	for _, seed := range []struct{ config, request string }{
		{`{}`, "n"}, {`"Seed"`, "S"}, {`"Fail"`, "e"}, {`{"a":1}`, "a"}, {`[]`, "o"}, {``, "i"}, {`"x"`, "g"},
	} {
		f.Add([]byte(seed.config), []byte(seed.request))
	}
	h, _ := newHost(f, allCaps, host.WithCallTimeout(100*time.Millisecond), host.WithOutputLimit(1<<16),
		host.WithArtifacts(host.ArtifactMap{"weights": []byte("w")}))
	fac := load(f, h, "guest.wasm")
	f.Fuzz(func(t *testing.T, config, request []byte) {
		ctx := context.Background()
		m, err := fac.Build(ctx, config)
		if err != nil {
			var ce *host.CallError
			if !errors.As(err, &ce) && !errors.Is(err, host.ErrInputLimit) {
				t.Fatalf("build error is not a CallError: %v", err)
			}
			return
		}
		defer m.Close(ctx)
		_, _ = m.Predict(ctx, request)
	})
}
