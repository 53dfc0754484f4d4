// Package mlpjson is the JSON interface of the mlp factories: a request is
// a JSON array of numbers (one sample) or {"inputs": [[...], ...]} (a
// batch); the answer is {"class": 3, "label": "3", "probabilities": [...]}
// ("values" for a linear output), or {"outputs": [...]} for a batch.
//
// The mlp guest factory and the native-Go baselines of the compute
// benchmarks both use it, so that they do the same work. A single request
// takes a hand-written path: in a guest every loop iteration and call pays
// the host's interruption check, and encoding/json makes many. That path
// accepts, refuses and produces exactly what encoding/json does, and
// anything else falls back to encoding/json.
package mlpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/wasmreg/wasmreg/examples/mlpnet"
)

// NewModel returns a Model answering with n.
func NewModel(n *mlpnet.Network) *Model {
	return &Model{n: n, ws: mlpnet.NewWorkspace(n), x: make([]float32, n.InputSize())}
}

// Model answers JSON requests with one network. It is not safe for
// concurrent use: like the guest instance it serves, it answers one request
// at a time.
type Model struct {
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

func (m *Model) Predict(input []byte) ([]byte, error) {
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
func (m *Model) one(x []float64, where string) (result, error) {
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
