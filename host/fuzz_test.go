package host_test

import (
	"context"
	"encoding/binary"
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
	sentinels := []error{host.ErrInvalidModule, host.ErrModuleLimit, host.ErrModuleTooLarge, host.ErrABIVersion, host.ErrMissingExport,
		host.ErrUnknownImport, host.ErrMistypedImport, host.ErrUnknownCapability, host.ErrNotGranted, host.ErrBadMetadata, host.ErrMemoryLimit,
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
			var cfe *host.ConfigError // the guest's schema refused the config
			if !errors.As(err, &ce) && !errors.Is(err, host.ErrInputLimit) && !(errors.As(err, &cfe) && len(cfe.Violations) > 0) {
				t.Fatalf("build error is not a CallError nor a ConfigError: %v", err)
			}
			return
		}
		defer m.Close(ctx)
		_, _ = m.Predict(ctx, request)
	})
}

// FuzzImports calls every host import with arbitrary pointers, lengths and
// values: a call may fail (out of bounds), never panic the host, and a
// failure that closed the model is reported as such.
func FuzzImports(f *testing.F) {
	le := func(op byte, a, b, c uint32, d uint64) []byte {
		buf := []byte{op}
		buf = binary.LittleEndian.AppendUint32(buf, a)
		buf = binary.LittleEndian.AppendUint32(buf, b)
		buf = binary.LittleEndian.AppendUint32(buf, c)
		return binary.LittleEndian.AppendUint64(buf, d)
	}
	for op := range byte(9) {
		f.Add(le(op, 0, 16, 0, 0))
		f.Add(le(op, 65530, 16, 4, 1<<63))
		f.Add(le(op, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffffffffffff))
	}
	h, _ := newHost(f, allCaps, host.WithCallTimeout(time.Second),
		host.WithArtifacts(host.ArtifactMap{"": []byte("empty name"), "{\"": []byte("x")}))
	fac := load(f, h, "fuzzimports.wasm")
	f.Fuzz(func(t *testing.T, request []byte) {
		ctx := context.Background()
		m, err := fac.Build(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(ctx)
		_, err = m.Predict(ctx, request)
		if err == nil {
			return
		}
		var ce *host.CallError
		if !errors.As(err, &ce) {
			t.Fatalf("not a CallError: %v", err)
		}
		if !errors.Is(err, host.ErrGuest) {
			// Anything else is a trap: the model must now be closed.
			if _, err := m.Predict(ctx, nil); !errors.Is(err, host.ErrModelClosed) {
				t.Fatalf("after %v the model is still open: %v", ce, err)
			}
		}
	})
}

// FuzzMetadata feeds arbitrary metadata JSON, tensor signatures above all,
// to the parser Load runs on wasmreg_info's output: nothing may panic, a
// refusal wraps ErrBadMetadata (or a capability error), and a signature
// it accepts is within the ABI's limits.
func FuzzMetadata(f *testing.F) {
	for _, seed := range []string{
		`{"name":"f","version":"1.0.0"}`,
		`{"name":"f","version":"1.0.0","tensors":{"inputs":[{"name":"x","datatype":"FP32","shape":[-1,64]}]}}`,
		`{"name":"f","version":"1.0.0","tensors":{"outputs":[{"name":"c","datatype":"INT64","shape":[-1]},{"name":"p","datatype":"FP32","shape":[-1,10]}]}}`,
		`{"name":"f","version":"1.0.0","tensors":{"inputs":[{"name":"x","name":"y","datatype":"BYTES","shape":[]}]}}`,
		`{"name":"f","version":"1.0.0","tensors":{"inputs":[{"name":"\u0000","datatype":"FP32","shape":[-2]}]}}`,
		`{"name":"f","version":"1.0.0","tensors":null,"capabilities":["log"]}`,
	} {
		f.Add([]byte(seed))
	}
	h, _ := newHost(f)
	f.Fuzz(func(t *testing.T, md []byte) {
		fac, err := host.ParseMetadata(h, md)
		if err != nil {
			if !errors.Is(err, host.ErrBadMetadata) && !errors.Is(err, host.ErrUnknownCapability) && !errors.Is(err, host.ErrNotGranted) {
				t.Fatalf("error wraps no metadata sentinel: %v", err)
			}
			return
		}
		sig, ok := fac.Signature()
		if !ok {
			return
		}
		if len(sig.Inputs) > host.MaxSignatureInputs || len(sig.Outputs) > host.MaxSignatureOutputs || len(sig.Inputs)+len(sig.Outputs) == 0 {
			t.Fatalf("accepted %d inputs and %d outputs", len(sig.Inputs), len(sig.Outputs))
		}
		for _, spec := range append(sig.Inputs, sig.Outputs...) {
			if spec.Name == "" || len(spec.Name) > host.MaxTensorName || len(spec.Shape) > host.MaxTensorRank {
				t.Fatalf("accepted %+v", spec)
			}
			for _, d := range spec.Shape {
				if d < -1 || d > host.MaxTensorDim {
					t.Fatalf("accepted dimension %d in %+v", d, spec)
				}
			}
		}
	})
}

// FuzzValidate runs Validate on arbitrary bytes: a refused module runs in
// its throw-away sandbox, and nothing may crash, hang or leak; every
// problem it lists wraps a host sentinel, and a module it accepts works as
// one Load accepts.
func FuzzValidate(f *testing.F) {
	for _, pattern := range []string{"testdata/*.wasm", "testdata/hostile/*.wasm"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	h, _ := newHost(f, host.WithCallTimeout(100*time.Millisecond), host.WithOutputLimit(1<<16))
	sentinels := []error{host.ErrInvalidModule, host.ErrModuleLimit, host.ErrModuleTooLarge, host.ErrABIVersion, host.ErrMissingExport,
		host.ErrUnknownImport, host.ErrMistypedImport, host.ErrUnknownCapability, host.ErrNotGranted, host.ErrBadMetadata, host.ErrMemoryLimit,
		host.ErrOutputLimit, host.ErrTimeout, host.ErrTrap, host.ErrGuest, host.ErrOutOfBounds, host.ErrOutsideCall}
	wraps := func(err error) bool {
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return true
			}
		}
		return false
	}
	f.Fuzz(func(t *testing.T, wasm []byte) {
		ctx := context.Background()
		fac, err := h.Validate(ctx, wasm)
		if err != nil {
			var me *host.ModuleError
			if errors.As(err, &me) {
				for _, p := range me.Problems {
					if !wraps(p) {
						t.Fatalf("problem wraps no host sentinel: %v", p)
					}
				}
			} else if !wraps(err) {
				t.Fatalf("Validate error wraps no host sentinel: %v", err)
			}
			return
		}
		defer fac.Close(ctx)
		m, err := fac.Build(ctx, []byte(`{}`))
		if err == nil {
			_, _ = m.Predict(ctx, []byte("x"))
			_ = m.Close(ctx)
		}
	})
}
