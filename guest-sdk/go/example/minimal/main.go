// Command minimal is the smallest useful wasmreg factory: a greeter. Its
// config {"greeting": "hello"} builds a model that answers each request,
// a name, with "hello, name"; the greeting defaults to "hello". Build it
// with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o greeter.wasm ./example/minimal
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	wasmreg "github.com/wasmreg/wasmreg/guest-sdk/go"
)

// main is never called: the host calls the factory's exports.
func main() {}

func init() {
	wasmreg.Register(wasmreg.Info{
		Name:         "greeter",
		Version:      "1.0.0",
		Description:  "Greets each request with the greeting in its config.",
		ConfigSchema: `{"type": "object", "properties": {"greeting": {"type": "string"}}, "additionalProperties": false}`,
		Capabilities: []string{"log"},
		// The tensor signature a server reports and checks (docs/SERVE.md):
		// each element of a BYTES tensor of names is one request, and each
		// greeting one element of the BYTES output; the generic mapping's
		// names, so that its clients need no change.
		Inputs:  []wasmreg.Tensor{{Name: "input", Datatype: "BYTES", Shape: []int64{-1}}},
		Outputs: []wasmreg.Tensor{{Name: "output", Datatype: "BYTES", Shape: []int64{-1}}},
	}, build)
}

func build(config []byte) (wasmreg.Model, error) {
	cfg := struct {
		Greeting string `json:"greeting"`
	}{Greeting: "hello"}
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.DisallowUnknownFields() // so that a typo is an error, not a default
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return wasmreg.ModelFunc(func(name []byte) ([]byte, error) {
		if len(name) == 0 {
			return nil, errors.New("request: empty name")
		}
		return fmt.Appendf(nil, "%s, %s", cfg.Greeting, name), nil
	}), nil
}
