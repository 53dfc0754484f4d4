package host

import (
	"context"

	"github.com/wasmreg/wasmreg/host/internal/guard"
)

// guardCtx is the context an instance's call runs under: its parent's
// values and deadline, the guard's Done and Err, and the call, for the host
// functions (callFrom). Firing raises the guest's stop flag.
type guardCtx struct {
	g *guard.Guard // never changed

	context.Context
	c *call
}

func (x *guardCtx) Done() <-chan struct{} { return x.g.Done() }

func (x *guardCtx) Err() error { return x.g.Err() }

func (x *guardCtx) Value(key any) any {
	if key == (callKey{}) {
		return x.c
	}
	return x.Context.Value(key)
}
