package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// Links a model may apply to W x + b.
const (
	linkIdentity = "identity"
	linkLogistic = "logistic"
	linkSoftmax  = "softmax"
)

var links = []string{linkIdentity, linkLogistic, linkSoftmax}

// model is y = link(W x + b). It is built once and then only read.
type model struct {
	weights [][]float64 // outputs × features
	bias    []float64   // one per output
	link    string
	labels  []string // one per class, or nil
}

func (m *model) outputs() int  { return len(m.weights) }
func (m *model) features() int { return len(m.weights[0]) }

// classifies reports whether predictions carry a class.
func (m *model) classifies() bool { return m.link != linkIdentity }

// classes is the number of classes: 2 for a single logistic output.
func (m *model) classes() int { return max(2, m.outputs()) }

// fieldError names the config field that is wrong.
func fieldError(field, format string, args ...any) error {
	return fmt.Errorf("config field %q: %s", field, fmt.Sprintf(format, args...))
}

var configFields = []string{"bias", "labels", "link", "weights"}

// parseConfig validates a configuration and returns its model. Its errors
// name the field and, inside it, the row and value at fault.
func parseConfig(config []byte) (*model, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(config, &fields); err != nil {
		return nil, fmt.Errorf(`config: want a JSON object such as {"weights": [[...], ...]}: %w`, err)
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if !slices.Contains(configFields, name) {
			return nil, fmt.Errorf("config field %q is unknown (known: %s)", name, strings.Join(configFields, ", "))
		}
	}
	present := func(name string) bool { raw, ok := fields[name]; return ok && !isNull(raw) }

	m := &model{link: linkIdentity}
	if !present("weights") {
		return nil, errors.New(`config field "weights" is required: one row of feature weights per output`)
	}
	w, err := parseWeights(fields["weights"])
	if err != nil {
		return nil, err
	}
	m.weights = w

	m.bias = make([]float64, m.outputs())
	if present("bias") {
		raw := fields["bias"]
		if !startsWith(raw, '[') {
			b, err := parseNumber(raw)
			if err != nil {
				return nil, fieldError("bias", "%v; want a number or an array of %d numbers", err, m.outputs())
			}
			for i := range m.bias {
				m.bias[i] = b
			}
		} else {
			bs, err := parseVector(raw)
			if err != nil {
				return nil, fieldError("bias", "%v", err)
			}
			if len(bs) != m.outputs() {
				return nil, fieldError("bias", `has %s, want %d (one per row of "weights")`, count(len(bs), "value"), m.outputs())
			}
			m.bias = bs
		}
	}

	if present("link") {
		if err := json.Unmarshal(fields["link"], &m.link); err != nil {
			return nil, fieldError("link", "want a string, one of %s", quoted(links))
		}
		if !slices.Contains(links, m.link) {
			return nil, fieldError("link", "%q is not one of %s", m.link, quoted(links))
		}
	}
	if m.link == linkSoftmax && m.outputs() < 2 {
		return nil, fieldError("link", `"softmax" needs at least 2 rows in "weights", one per class; use "logistic" for a single output`)
	}

	if present("labels") {
		if !m.classifies() {
			return nil, fieldError("labels", `needs "link" "logistic" or "softmax", not %q`, m.link)
		}
		var raws []json.RawMessage
		if err := json.Unmarshal(fields["labels"], &raws); err != nil {
			return nil, fieldError("labels", "want an array of strings")
		}
		m.labels = make([]string, len(raws))
		for i, raw := range raws {
			if isNull(raw) || json.Unmarshal(raw, &m.labels[i]) != nil {
				return nil, fieldError("labels", "label %d is %s, not a string", i, short(raw))
			}
		}
		if len(m.labels) != m.classes() {
			why := "one per class"
			if m.outputs() == 1 {
				why = "for class 0 and class 1 of the single output"
			}
			return nil, fieldError("labels", "has %s, want %d (%s)", count(len(m.labels), "label"), m.classes(), why)
		}
	}
	return m, nil
}

// parseWeights parses an array of rows or a single row.
func parseWeights(raw json.RawMessage) ([][]float64, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fieldError("weights", "is %s; want an array of rows of numbers, or one row", short(raw))
	}
	if len(items) == 0 {
		return nil, fieldError("weights", "is empty")
	}
	if !startsWith(items[0], '[') { // one row: a single output
		row, err := parseVector(raw)
		if err != nil {
			return nil, fieldError("weights", "%v", err)
		}
		return [][]float64{row}, nil
	}
	rows := make([][]float64, len(items))
	for i, item := range items {
		if !startsWith(item, '[') {
			return nil, fieldError("weights", "row %d is %s, not an array of numbers (row 0 is an array, so every row must be)", i, short(item))
		}
		row, err := parseVector(item)
		if err != nil {
			return nil, fieldError("weights", "row %d: %v", i, err)
		}
		switch {
		case len(row) == 0:
			return nil, fieldError("weights", "row %d is empty", i)
		case len(row) != len(rows[0]) && i > 0:
			return nil, fieldError("weights", "row %d has %s, want %d like row 0", i, count(len(row), "value"), len(rows[0]))
		}
		rows[i] = row
	}
	return rows, nil
}

// parseVector parses a JSON array of numbers; its errors name the value.
func parseVector(raw json.RawMessage) ([]float64, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("is %s, not an array of numbers", short(raw))
	}
	v := make([]float64, len(items))
	for i, item := range items {
		x, err := parseNumber(item)
		if err != nil {
			return nil, fmt.Errorf("value %d: %w", i, err)
		}
		v[i] = x
	}
	return v, nil
}

func parseNumber(raw json.RawMessage) (float64, error) {
	var x float64
	if isNull(raw) || json.Unmarshal(raw, &x) != nil {
		if t := bytes.TrimSpace(raw); len(t) > 0 && (t[0] == '-' || '0' <= t[0] && t[0] <= '9') {
			return 0, fmt.Errorf("%s is out of the range of float64", short(raw))
		}
		return 0, fmt.Errorf("%s is not a number", short(raw))
	}
	return x, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func startsWith(raw json.RawMessage, c byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == c
}

// short quotes the start of a JSON value for an error message.
func short(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 24 {
		s = s[:24] + "…"
	}
	return "`" + s + "`"
}

// count says "1 value" or "3 values".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// prediction is the response to one input.
type prediction struct {
	Outputs []float64 `json:"outputs"`
	Class   *int      `json:"class,omitempty"`
	Label   *string   `json:"label,omitempty"`
}

// Predict implements wasmreg.Model: a request is a JSON array of features,
// answered with one prediction, or {"inputs": [[...], ...]}, answered with
// an array of predictions.
func (m *model) Predict(request []byte) ([]byte, error) {
	req := bytes.TrimSpace(request)
	switch {
	case len(req) == 0:
		return nil, fmt.Errorf(`request: empty; want a JSON array of %d numbers, or {"inputs": [[...], ...]}`, m.features())
	case req[0] == '{':
		inputs, err := m.parseBatch(req)
		if err != nil {
			return nil, err
		}
		preds := make([]prediction, len(inputs))
		for i, x := range inputs {
			if preds[i], err = m.predict(x); err != nil {
				return nil, fmt.Errorf("request field \"inputs\": row %d: %w", i, err)
			}
		}
		return json.Marshal(preds)
	default:
		x, err := parseVector(req)
		if err != nil {
			return nil, fmt.Errorf(`request: %w; want a JSON array of %d numbers, or {"inputs": [[...], ...]}`, err, m.features())
		}
		if len(x) != m.features() {
			return nil, fmt.Errorf("request: has %s, want %d (one per feature)", count(len(x), "value"), m.features())
		}
		p, err := m.predict(x)
		if err != nil {
			return nil, fmt.Errorf("request: %w", err)
		}
		return json.Marshal(p)
	}
}

func (m *model) parseBatch(req []byte) ([][]float64, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(req, &fields); err != nil {
		return nil, fmt.Errorf(`request: want {"inputs": [[...], ...]}: %w`, err)
	}
	for name := range fields {
		if name != "inputs" {
			return nil, fmt.Errorf(`request field %q is unknown (known: inputs)`, name)
		}
	}
	raw, ok := fields["inputs"]
	if !ok || isNull(raw) {
		return nil, errors.New(`request field "inputs" is required`)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf(`request field "inputs": is %s, not an array of rows`, short(raw))
	}
	inputs := make([][]float64, len(items))
	for i, item := range items {
		x, err := parseVector(item)
		if err != nil {
			return nil, fmt.Errorf(`request field "inputs": row %d: %w`, i, err)
		}
		if len(x) != m.features() {
			return nil, fmt.Errorf(`request field "inputs": row %d has %s, want %d (one per feature)`, i, count(len(x), "value"), m.features())
		}
		inputs[i] = x
	}
	return inputs, nil
}

// predict computes link(W x + b) for one input of the right length.
func (m *model) predict(x []float64) (prediction, error) {
	y := make([]float64, m.outputs())
	for k, row := range m.weights {
		z := m.bias[k]
		for j, w := range row {
			z += w * x[j]
		}
		if math.IsInf(z, 0) || math.IsNaN(z) {
			return prediction{}, fmt.Errorf("output %d overflows float64 (W x + b is %v)", k, z)
		}
		y[k] = z
	}
	p := prediction{Outputs: y}
	switch m.link {
	case linkIdentity:
		return p, nil
	case linkLogistic:
		for k, z := range y {
			y[k] = sigmoid(z)
		}
	case linkSoftmax:
		softmax(y)
	}
	class := 0
	if m.outputs() == 1 {
		if y[0] >= 0.5 {
			class = 1
		}
	} else {
		for k := range y {
			if y[k] > y[class] {
				class = k
			}
		}
	}
	p.Class = &class
	if m.labels != nil {
		p.Label = &m.labels[class]
	}
	return p, nil
}

// sigmoid is 1/(1+e^-z), computed without overflow.
func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// softmax replaces z with e^z / Σ e^z, shifted by max(z) against overflow.
func softmax(z []float64) {
	top := slices.Max(z)
	sum := 0.0
	for k := range z {
		z[k] = math.Exp(z[k] - top)
		sum += z[k]
	}
	for k := range z {
		z[k] /= sum
	}
}
