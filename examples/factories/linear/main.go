// Command linear is a wasmreg factory of linear and logistic-regression
// models whose weights are given in the build configuration. See README.md
// for the configuration, the requests and the responses. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o linear.wasm ./examples/factories/linear
package main

import (
	wasmreg "github.com/wasmreg/wasmreg/guest-sdk/go"
	"github.com/wasmreg/wasmreg/guest-sdk/go/log"
)

// main is never called: the host calls the factory's exports.
func main() {}

func init() {
	wasmreg.Register(wasmreg.Info{
		Name:         "linear",
		Version:      "1.0.0",
		Description:  "Linear or logistic regression from weights in the config.",
		ConfigSchema: configSchema,
		Capabilities: []string{"log"},
	}, build)
}

func build(config []byte) (wasmreg.Model, error) {
	m, err := parseConfig(config)
	if err != nil {
		return nil, err
	}
	log.Info("linear model built", "outputs", m.outputs(), "features", m.features(), "link", m.link, "labels", len(m.labels))
	return m, nil
}

// configSchema is the JSON Schema of the configuration, shown by hosts.
const configSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "linear",
  "description": "A linear model y = link(W x + b).",
  "type": "object",
  "required": ["weights"],
  "additionalProperties": false,
  "properties": {
    "weights": {
      "description": "W: one row of feature weights per output (outputs x features), or one row for a single output.",
      "oneOf": [
        {"type": "array", "minItems": 1, "items": {"type": "number"}},
        {"type": "array", "minItems": 1, "items": {"type": "array", "minItems": 1, "items": {"type": "number"}}}
      ]
    },
    "bias": {
      "description": "b: one number per output, or one number added to every output. Default 0.",
      "oneOf": [
        {"type": "number"},
        {"type": "array", "items": {"type": "number"}}
      ]
    },
    "link": {
      "description": "identity: regression; logistic: a probability per output (one output: binary classes 0 and 1); softmax: class probabilities (at least 2 outputs).",
      "enum": ["identity", "logistic", "softmax"],
      "default": "identity"
    },
    "labels": {
      "description": "Class names, one per class (2 for a single logistic output). Only with logistic or softmax.",
      "type": "array",
      "items": {"type": "string"}
    }
  }
}`
