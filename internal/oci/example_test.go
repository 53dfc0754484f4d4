package oci_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/wasmreg/wasmreg/internal/oci"
)

// A pull from a registry that cannot be reached fails within the client's
// timeout with an error that errors.Is tells apart from a 401, 403 or 404,
// and that names the reference and the registry.
func ExampleClient_Pull_errors() {
	dir, _ := os.MkdirTemp("", "oci-example")
	defer os.RemoveAll(dir)
	store, _ := oci.NewStore(dir)
	c, _ := oci.New(store, oci.WithTimeout(5*time.Second))
	ref, _ := oci.ParseReference("oci://127.0.0.1:1/factories/echo:v1") // nothing listens on port 1
	_, err := c.Pull(context.Background(), ref)
	switch {
	case errors.Is(err, oci.ErrUnauthorized), errors.Is(err, oci.ErrForbidden):
		fmt.Println("log in, or ask for the right")
	case errors.Is(err, oci.ErrNotFound):
		fmt.Println("no such tag")
	case errors.Is(err, oci.ErrTimeout):
		fmt.Println("the registry is slow")
	case errors.Is(err, oci.ErrUnreachable):
		fmt.Println("the registry is down")
	}
	// Output: the registry is down
}
