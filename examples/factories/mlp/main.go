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
	return &model{n: n, ws: mlpnet.NewWorkspace(n), x: make([]float32, n.InputSize())}, nil
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

// model answers requests with one network. Like the guest instance, it is
// used by one call at a time.
type model struct {
	n  *mlpnet.Network
	ws *mlpnet.Workspace
	x  []float32 // the current sample, as float32
	xs []float64 // the current request's numbers, reused
}

// result is the answer for one sample.
type result struct {
	Class         int       `json:"class"`
	Label         *string   `json:"label,omitempty"`
	Probabilities []float32 `json:"probabilities,omitempty"` // softmax and sigmoid outputs
	Values        []float32 `json:"values,omitempty"`        // linear outputs
}

func (m *model) Predict(input []byte) ([]byte, error) {
	input = bytes.TrimSpace(input)
	var out any
	switch {
	case len(input) > 0 && input[0] == '[':
		x, ok := parseNumbers(input, m.xs[:0])
		if !ok { // let encoding/json say what is wrong
			if err := json.Unmarshal(input, &x); err != nil {
				return nil, fmt.Errorf("request: want a JSON array of %d numbers: %w", m.n.InputSize(), err)
			}
		}
		m.xs = x
		r, err := m.one(x, "")
		if err != nil {
			return nil, err
		}
		if b, ok := appendResult(nil, r); ok {
			return b, nil
		}
		out = r
	case len(input) > 0 && input[0] == '{':
		var req struct {
			Inputs [][]float64 `json:"inputs"`
		}
		dec := json.NewDecoder(bytes.NewReader(input))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return nil, fmt.Errorf("request: want {\"inputs\": [[%d numbers], ...]}: %w", m.n.InputSize(), err)
		}
		if req.Inputs == nil {
			return nil, errors.New(`request: field "inputs" is required`)
		}
		results := make([]result, len(req.Inputs))
		for i, x := range req.Inputs {
			r, err := m.one(x, fmt.Sprintf("inputs[%d]: ", i))
			if err != nil {
				return nil, err
			}
			results[i] = r
		}
		out = struct {
			Outputs []result `json:"outputs"`
		}{results}
	default:
		return nil, fmt.Errorf("request: want a JSON array of %d numbers, or {\"inputs\": [[...], ...]} for a batch", m.n.InputSize())
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("response: %w", err)
	}
	return b, nil
}

// one runs the network on one sample; where prefixes its errors.
func (m *model) one(x []float64, where string) (result, error) {
	if len(x) != len(m.x) {
		return result{}, fmt.Errorf("request: %sgot %d values, want %d", where, len(x), len(m.x))
	}
	for i, v := range x {
		if math.Abs(v) > math.MaxFloat32 {
			return result{}, fmt.Errorf("request: %svalue %d is %g, outside the float32 range", where, i, v)
		}
		m.x[i] = float32(v)
	}
	y := m.n.Forward(m.x, m.ws)
	r := result{Class: m.n.Class(y)}
	// A single sigmoid output has classes 0 and 1 but one label at most.
	if r.Class < len(m.n.Labels) {
		r.Label = &m.n.Labels[r.Class]
	}
	if m.n.Output == "linear" {
		r.Values = slices.Clone(y)
	} else {
		r.Probabilities = slices.Clone(y)
	}
	return r, nil
}

// The single-request fast path: a guest pays for every loop iteration and
// function call it makes (the host's interruption checks), and
// encoding/json makes many, so a plain array of numbers is parsed and the
// response written by hand. Both accept and produce exactly what
// encoding/json would: anything else falls back to it.

// parseNumbers parses a JSON array of numbers into dst, or reports false
// for anything it does not handle (the caller then uses encoding/json).
func parseNumbers(b []byte, dst []float64) ([]float64, bool) {
	i := skipSpace(b, 1)
	if i < len(b) && b[i] == ']' {
		return dst, skipSpace(b, i+1) == len(b)
	}
	for {
		j := scanNumber(b, i)
		if j == i {
			return nil, false
		}
		v, err := strconv.ParseFloat(string(b[i:j]), 64)
		if err != nil {
			return nil, false
		}
		dst = append(dst, v)
		i = skipSpace(b, j)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return dst, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanNumber returns the end of the JSON number at b[i:], or i if there is
// none: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) int {
	start := i
	digits := func(i int) int {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i)
	default:
		return start
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return start
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return start
		}
		i = j
	}
	return i
}

// appendResult writes r as encoding/json.Marshal would, or reports false
// for what it leaves to encoding/json (a NaN or an infinity, which Marshal
// refuses).
func appendResult(b []byte, r result) ([]byte, bool) {
	b = append(b, `{"class":`...)
	b = strconv.AppendInt(b, int64(r.Class), 10)
	if r.Label != nil {
		label, err := json.Marshal(*r.Label) // escapes as Marshal does
		if err != nil {
			return nil, false
		}
		b = append(b, `,"label":`...)
		b = append(b, label...)
	}
	for _, field := range []struct {
		name string
		vs   []float32
	}{{"probabilities", r.Probabilities}, {"values", r.Values}} {
		if len(field.vs) == 0 {
			continue // omitempty
		}
		b = append(b, `,"`...)
		b = append(b, field.name...)
		b = append(b, `":[`...)
		for i, v := range field.vs {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendFloat32(b, v); !ok {
				return nil, false
			}
		}
		b = append(b, ']')
	}
	return append(b, '}'), true
}

// appendFloat32 formats v as encoding/json formats a float32.
func appendFloat32(b []byte, v float32) ([]byte, bool) {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, false
	}
	format := byte('f')
	if abs := float32(math.Abs(f)); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 32)
	if format == 'e' { // e-09 to e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}
