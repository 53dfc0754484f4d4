package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmreg/wasmreg/di"
	"github.com/wasmreg/wasmreg/internal/safetext"
)

// The functions of the wasmreg import module (docs/ABI.md §4). Each one
// finds its call with callFrom, checks every pointer against the guest's
// memory, and aborts the call with hostPanic on misuse.

func (h *Host) fnInput(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	c.requireExport("input")
	write(mod, "input", api.DecodeU32(stack[0]), c.input)
}

func (h *Host) fnOutput(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	c.requireExport("output")
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	b := read(mod, "output", ptr, n)
	if len(c.out)+len(b) > h.cfg.outputLimit {
		hostPanic(overLimit(&LimitError{Kind: ErrOutputLimit, Option: "WithOutputLimit", Limit: int64(h.cfg.outputLimit),
			Got: int64(len(c.out) + len(b)), Detail: fmt.Sprintf("%s wrote more than %d bytes", c.export, h.cfg.outputLimit)}))
	}
	c.out = append(c.out, b...)
}

func (h *Host) fnError(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	b := read(mod, "error", ptr, n)
	c.errMsg = safetext.LineBytes(b, MaxErrorMessage)
	// Outside an export the call fails, with the message as its reason: a
	// guest that reports why it is about to trap in _initialize says why.
	c.requireExport("error")
}

func (h *Host) fnLog(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	level := slog.Level(int32(api.DecodeI32(stack[0])))
	ptr, n := api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	b := read(mod, "log", ptr, n)
	logger := h.cfg.logger
	if di.Provided[*slog.Logger](h.container) {
		var err error
		if logger, err = di.Resolve[*slog.Logger](c.request(), h.container); err != nil {
			hostPanic(fmt.Errorf("host: log: resolve logger: %w", err))
		}
	}
	if !logger.Enabled(ctx, level) {
		return
	}
	c.guestLog(ctx, logger, level, safetext.LineBytes(b, h.cfg.logLineLimit), slog.String("source", "guest"))
}

// resolveCap returns the capability value of type T for the call: the
// container's if it provides T (in the call's request scope), else def,
// the host's own (host.go).
func resolveCap[T any](c *call, h *Host, capability, imp string, def func() T) T {
	c.requireGrant(capability, imp)
	if !di.Provided[T](h.container) {
		return def()
	}
	v, err := di.Resolve[T](c.request(), h.container)
	if err != nil {
		hostPanic(fmt.Errorf("host: %s: capability %q: %w", imp, capability, err))
	}
	return v
}

func (h *Host) fnClockNow(ctx context.Context, _ api.Module, stack []uint64) {
	c := callFrom(ctx)
	clock := resolveCap(c, h, CapClock, "clock_now", h.defaultClock)
	stack[0] = api.EncodeI64(clock.Now().UnixNano())
}

func (h *Host) fnClockMonotonic(ctx context.Context, _ api.Module, stack []uint64) {
	c := callFrom(ctx)
	clock := resolveCap(c, h, CapClock, "clock_monotonic", h.defaultClock)
	stack[0] = api.EncodeI64(int64(clock.Monotonic()))
}

func (h *Host) fnRandomFill(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	r := resolveCap(c, h, CapRandom, "random_fill", func() Random { return h.defaultRandom(c) })
	// Fill guest memory in place: the view aliases it.
	r.Fill(read(mod, "random_fill", api.DecodeU32(stack[0]), api.DecodeU32(stack[1])))
}

func (h *Host) fnRandomSeed(ctx context.Context, _ api.Module, stack []uint64) {
	c := callFrom(ctx)
	r := resolveCap(c, h, CapRandom, "random_seed", func() Random { return h.defaultRandom(c) })
	r.Seed(stack[0])
}

func (h *Host) artifact(ctx context.Context, c *call, mod api.Module, imp string, namePtr, nameLen uint64) ([]byte, bool) {
	a := resolveCap(c, h, CapArtifact, imp, h.defaultArtifacts)
	name := string(read(mod, imp, api.DecodeU32(namePtr), api.DecodeU32(nameLen)))
	b, err := a.Artifact(c.request(), name)
	if errors.Is(err, ErrNoArtifact) {
		return nil, false
	}
	if err != nil {
		hostPanic(fmt.Errorf("host: %s: artifact %q: %w", imp, name, err))
	}
	return b, true
}

func (h *Host) fnArtifactSize(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	b, ok := h.artifact(ctx, c, mod, "artifact_size", stack[0], stack[1])
	if !ok {
		stack[0] = api.EncodeI64(-1)
		return
	}
	stack[0] = api.EncodeI64(int64(len(b)))
}

func (h *Host) fnArtifactRead(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	offset := int64(stack[2])
	ptr, n := api.DecodeU32(stack[3]), api.DecodeU32(stack[4])
	dst := read(mod, "artifact_read", ptr, n) // bounds-check the whole buffer first
	b, ok := h.artifact(ctx, c, mod, "artifact_read", stack[0], stack[1])
	switch {
	case !ok:
		stack[0] = api.EncodeI64(-1)
		return
	case offset < 0:
		stack[0] = api.EncodeI64(-2)
		return
	case offset >= int64(len(b)):
		stack[0] = 0
		return
	}
	stack[0] = api.EncodeI64(int64(copy(dst, b[offset:])))
}
