// Command mlp is a wasmreg factory of multi-layer perceptrons, written with
// the Go guest SDK and the examples/mlpnet package. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o mlp.wasm ./examples/factories/mlp
//
// A config builds either a new network, with Glorot weights drawn from the
// random capability after seeding it with "seed":
//
//	{"layers": [64, 32, 10], "activation": "relu", "output": "softmax", "seed": 42}
//
// or the trained network in an artifact in mlpnet's weights format:
//
//	{"weights": "digits"}
//
// A request is one sample, a JSON array of numbers, answered with
// {"class": 3, "probabilities": [...]} (and "label" if the weights name
// their classes), or a batch {"inputs": [[...], ...]}, answered with
// {"outputs": [{"class": ...}, ...]}. See README.md.
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/wasmreg/wasmreg/examples/mlpnet"
	"github.com/wasmreg/wasmreg/examples/mlpnet/mlpjson"
	wasmreg "github.com/wasmreg/wasmreg/guest-sdk/go"
	"github.com/wasmreg/wasmreg/guest-sdk/go/artifact"
	"github.com/wasmreg/wasmreg/guest-sdk/go/log"
	"github.com/wasmreg/wasmreg/guest-sdk/go/random"
)

// main is never called: the host calls the factory's exports.
func main() {}

func init() {
	wasmreg.Register(wasmreg.Info{
		Name:         "mlp",
		Version:      "1.0.0",
		Description:  "Multi-layer perceptrons: new ones from layers and a seed, or trained weights from an artifact.",
		ConfigSchema: configSchema,
		Capabilities: []string{"log", "random", "artifact"},
	}, build)
}

// maxParams caps a new network at 16 MiB of float32 weights, a quarter of
// the host's default memory limit, so that a large "layers" fails with a
// message instead of running out of memory.
const maxParams = 4 << 20

const configSchema = `{
  "type": "object",
  "description": "Either a new network from \"layers\" (seeded by \"seed\" for reproducible weights) or a trained network from the artifact named by \"weights\".",
  "oneOf": [
    {
      "required": ["layers"],
      "additionalProperties": false,
      "properties": {
        "layers": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "description": "[inputs, hidden units..., outputs]"},
        "activation": {"enum": ["relu", "tanh", "sigmoid"], "default": "relu", "description": "activation of the hidden layers"},
        "output": {"enum": ["softmax", "sigmoid", "linear"], "default": "softmax", "description": "function of the last layer"},
        "seed": {"type": "integer", "minimum": 0, "maximum": 18446744073709551615, "description": "seeds the Glorot-uniform weights; without it they differ at every build"},
        "input_scale": {"type": "number", "default": 1, "description": "multiplies every input before the first layer"},
        "labels": {"type": "array", "items": {"type": "string"}, "description": "one name per output"}
      }
    },
    {
      "required": ["weights"],
      "additionalProperties": false,
      "properties": {
        "weights": {"type": "string", "minLength": 1, "description": "name of a granted artifact in mlpnet's weights format, such as \"digits\""}
      }
    }
  ]
}`

// config is a parsed build configuration.
type config struct {
	weights    string // artifact name; if set, nothing else is
	layers     []int
	activation string
	output     string
	seed       *uint64
	inputScale float32
	labels     []string
}

var configFields = []string{"activation", "input_scale", "labels", "layers", "output", "seed", "weights"}

// parseConfig reads the build configuration; its errors name the field.
func parseConfig(b []byte) (config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		if err == nil {
			err = errors.New("null")
		}
		return config{}, fmt.Errorf("config: want a JSON object: %w", err)
	}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if !slices.Contains(configFields, k) {
			return config{}, fmt.Errorf("config: unknown field %q (known: %s)", k, strings.Join(configFields, ", "))
		}
	}
	c := config{activation: "relu", output: "softmax", inputScale: 1}

	if w, ok := raw["weights"]; ok {
		if err := json.Unmarshal(w, &c.weights); err != nil || c.weights == "" {
			return config{}, fmt.Errorf("config field \"weights\": want the name of an artifact, got %s", w)
		}
		for _, k := range configFields {
			if _, ok := raw[k]; ok && k != "weights" {
				return config{}, fmt.Errorf("config field %q: not allowed with \"weights\": the artifact holds the whole network", k)
			}
		}
		return c, nil
	}

	l, ok := raw["layers"]
	if !ok {
		return config{}, errors.New(`config: field "layers" (a new network, e.g. [64, 32, 10]) or "weights" (an artifact name, e.g. "digits") is required`)
	}
	if err := json.Unmarshal(l, &c.layers); err != nil {
		return config{}, fmt.Errorf("config field \"layers\": want an array of integers [inputs, hidden..., outputs], got %s", l)
	}
	params, err := mlpnet.CountParams(c.layers)
	if err != nil {
		return config{}, fmt.Errorf("config field \"layers\": %w", err)
	}
	if params > maxParams {
		return config{}, fmt.Errorf("config field \"layers\": %v has %d parameters, this factory's limit is %d", c.layers, params, maxParams)
	}
	if err := stringField(raw, "activation", &c.activation, mlpnet.Activations()); err != nil {
		return config{}, err
	}
	if err := stringField(raw, "output", &c.output, mlpnet.Outputs()); err != nil {
		return config{}, err
	}
	if s, ok := raw["seed"]; ok {
		seed, err := strconv.ParseUint(string(bytes.TrimSpace(s)), 10, 64)
		if err != nil {
			return config{}, fmt.Errorf("config field \"seed\": want an integer 0..18446744073709551615, got %s", s)
		}
		c.seed = &seed
	}
	if s, ok := raw["input_scale"]; ok {
		var v float64
		if err := json.Unmarshal(s, &v); err != nil || v == 0 || math.Abs(v) > math.MaxFloat32 {
			return config{}, fmt.Errorf("config field \"input_scale\": want a non-zero number, got %s", s)
		}
		c.inputScale = float32(v)
	}
	if s, ok := raw["labels"]; ok {
		if err := json.Unmarshal(s, &c.labels); err != nil || len(c.labels) != c.layers[len(c.layers)-1] {
			return config{}, fmt.Errorf("config field \"labels\": want %d strings, one per output, got %s", c.layers[len(c.layers)-1], s)
		}
	}
	return c, nil
}

func stringField(raw map[string]json.RawMessage, name string, dst *string, allowed []string) error {
	b, ok := raw[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(b, dst); err != nil || !slices.Contains(allowed, *dst) {
		return fmt.Errorf("config field %q: want one of %s, got %s", name, strings.Join(allowed, ", "), b)
	}
	return nil
}

func build(b []byte) (wasmreg.Model, error) {
	c, err := parseConfig(b)
	if err != nil {
		return nil, err
	}
	var n *mlpnet.Network
	if c.weights != "" {
		data, err := artifact.ReadAll(c.weights)
		if errors.Is(err, artifact.ErrNotFound) {
			return nil, fmt.Errorf("config field \"weights\": artifact %q not found: the host must grant it (the CLI: --grant artifact=%s=FILE)", c.weights, c.weights)
		}
		if err != nil {
			return nil, fmt.Errorf("config field \"weights\": %w", err)
		}
		if n, err = mlpnet.Decode(data); err != nil {
			return nil, fmt.Errorf("config field \"weights\": artifact %q: %w", c.weights, err)
		}
		log.Info("mlp: loaded weights", "artifact", c.weights, "sizes", n.Sizes(), "activation", n.Activation, "output", n.Output, "params", n.NumParams())
	} else {
		if n, err = mlpnet.New(c.layers, c.activation, c.output); err != nil {
			return nil, fmt.Errorf("config: %w", err) // unreachable: parseConfig checked
		}
		n.InputScale, n.Labels = c.inputScale, c.labels
		seeded := c.seed != nil
		if seeded {
			random.Seed(*c.seed)
		}
		n.Init(uniforms(n.NumParams()))
		log.Info("mlp: initialised weights", "sizes", n.Sizes(), "activation", n.Activation, "output", n.Output, "params", n.NumParams(), "seeded", seeded)
	}
	return mlpjson.NewModel(n), nil
}

// uniforms returns a source of at most count numbers in [0, 1): the numbers
// random.Float64 would return, in the same order, drawn 512 at a time with
// one random_fill each instead of one host call per number. The random
// capability is a byte stream, so the chunking does not change the numbers.
func uniforms(count int) func() float64 {
	block := make([]byte, 8*512)
	var next []byte // the drawn bytes not used yet
	return func() float64 {
		if len(next) == 0 {
			k := max(1, min(count, 512))
			count -= k
			next = block[:8*k]
			_, _ = random.Read(next) // never fails
		}
		u := binary.LittleEndian.Uint64(next)
		next = next[8:]
		return float64(u<<11>>11) / (1 << 53) // as random.Float64 and math/rand/v2
	}
}
