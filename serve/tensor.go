package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// inferRequest is the OIP $inference_request.
type inferRequest struct {
	ID         string          `json:"id,omitempty"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
	Inputs     []tensor        `json:"inputs"`
	Outputs    json.RawMessage `json:"outputs,omitempty"`
}

// requestedOutput is an OIP $request_output.
type requestedOutput struct {
	Name       string          `json:"name"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

// requestedOutputs decodes a request's "outputs": the names asked for.
func requestedOutputs(model string, raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var outs []requestedOutput
	if err := json.Unmarshal(raw, &outs); err != nil {
		return nil, fmt.Errorf("%w: model %q: outputs: %w", ErrBadRequest, model, err)
	}
	names := make([]string, len(outs))
	for i, o := range outs {
		if o.Name == "" {
			return nil, fmt.Errorf("%w: model %q: requested output %d has no name", ErrBadRequest, model, i)
		}
		names[i] = o.Name
	}
	return names, nil
}

// tensor is an OIP $request_input / $response_output.
type tensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data"`
}

type inferResponse struct {
	ModelName    string      `json:"model_name"`
	ModelVersion string      `json:"model_version,omitempty"`
	ID           string      `json:"id,omitempty"`
	Outputs      []outTensor `json:"outputs"`
}

type outTensor struct {
	Name     string  `json:"name"`
	Shape    []int64 `json:"shape"`
	Datatype string  `json:"datatype"`
	Data     []any   `json:"data"`
}

// maxElements bounds a tensor's element count before anything is allocated.
const maxElements = 1 << 24

// numeric datatypes and their value ranges; BYTES is handled apart.
var numericTypes = map[string][2]float64{
	"BOOL": {0, 1}, "INT8": {math.MinInt8, math.MaxInt8}, "INT16": {math.MinInt16, math.MaxInt16},
	"INT32": {math.MinInt32, math.MaxInt32}, "INT64": {-(1 << 53), 1 << 53},
	"UINT8": {0, math.MaxUint8}, "UINT16": {0, math.MaxUint16}, "UINT32": {0, math.MaxUint32}, "UINT64": {0, 1 << 53},
	"FP16": {-65504, 65504}, "FP32": {-math.MaxFloat32, math.MaxFloat32}, "FP64": {-math.MaxFloat64, math.MaxFloat64},
}

// elements checks a tensor's shape and returns its element count.
func elements(model string, t tensor) (int, error) {
	if len(t.Shape) > 16 {
		return 0, fmt.Errorf("%w: model %q: input %q: shape has %d dimensions, at most 16", ErrBadRequest, model, t.Name, len(t.Shape))
	}
	n := int64(1)
	for _, d := range t.Shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: model %q: input %q: shape %v has a negative dimension", ErrBadRequest, model, t.Name, t.Shape)
		}
		if d != 0 && n > maxElements/d {
			return 0, fmt.Errorf("%w: model %q: input %q: shape %v has more than %d elements", ErrBadRequest, model, t.Name, t.Shape, maxElements)
		}
		n *= d
	}
	return int(n), nil
}

// flatten returns the JSON values of data, flat in row-major order; the
// protocol allows nested arrays as well as a flat one.
func flatten(model, input string, data json.RawMessage, limit int) ([]json.RawMessage, error) {
	var out []json.RawMessage
	var walk func(v json.RawMessage, depth int) error
	walk = func(v json.RawMessage, depth int) error {
		v = bytes.TrimSpace(v)
		if len(v) == 0 || v[0] != '[' {
			// encoding/json reads null into a number, bool or string as
			// its zero value: a hole in the data, not a 0.
			if bytes.Equal(v, []byte("null")) {
				return fmt.Errorf("%w: model %q: input %q: element %d is null", ErrBadRequest, model, input, len(out))
			}
			if len(out) >= limit {
				return fmt.Errorf("%w: model %q: input %q: more data than the shape holds (%d elements)", ErrBadRequest, model, input, limit)
			}
			out = append(out, v)
			return nil
		}
		if depth > 16 {
			return fmt.Errorf("%w: model %q: input %q: data nested deeper than 16", ErrBadRequest, model, input)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			return fmt.Errorf("%w: model %q: input %q: data: %w", ErrBadRequest, model, input, err)
		}
		for _, it := range items {
			if err := walk(it, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: model %q: input %q: no data", ErrBadRequest, model, input)
	}
	if err := walk(data, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// rowRequests maps one input tensor to the factory's requests: each row
// of a numeric [N, F…] tensor becomes a JSON array of its F… values (a
// tensor of rank 0 or 1 is one request); each element of a BYTES tensor
// is one request, verbatim.
func rowRequests(model string, t tensor) (reqs [][]byte, bytesIn bool, err error) {
	n, err := elements(model, t)
	if err != nil {
		return nil, false, err
	}
	vals, err := flatten(model, t.Name, t.Data, n)
	if err != nil {
		return nil, false, err
	}
	if len(vals) != n {
		return nil, false, fmt.Errorf("%w: model %q: input %q: shape %v holds %d elements, data has %d", ErrBadRequest, model, t.Name, t.Shape, n, len(vals))
	}
	if t.Datatype == "BYTES" {
		reqs = make([][]byte, n)
		for i, v := range vals {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, false, fmt.Errorf("%w: model %q: input %q: element %d of a BYTES tensor is not a string", ErrBadRequest, model, t.Name, i)
			}
			reqs[i] = []byte(s)
		}
		return reqs, true, nil
	}
	rng, ok := numericTypes[t.Datatype]
	if !ok {
		return nil, false, fmt.Errorf("%w: model %q: input %q: unknown datatype %q", ErrBadRequest, model, t.Name, t.Datatype)
	}
	row := make([]any, n)
	for i, v := range vals {
		x, err := number(t.Datatype, rng, v)
		if err != nil {
			return nil, false, fmt.Errorf("%w: model %q: input %q: element %d: %w", ErrBadRequest, model, t.Name, i, err)
		}
		row[i] = x
	}
	rows, width := 1, n
	if len(t.Shape) >= 2 {
		rows = int(t.Shape[0])
		if rows > 0 {
			width = n / rows
		}
	}
	reqs = make([][]byte, 0, rows)
	for r := range rows {
		b, err := json.Marshal(row[r*width : (r+1)*width])
		if err != nil {
			return nil, false, fmt.Errorf("%w: model %q: input %q: %w", ErrBadRequest, model, t.Name, err)
		}
		reqs = append(reqs, b)
	}
	return reqs, false, nil
}

// number checks one JSON value against a datatype.
func number(dt string, rng [2]float64, v json.RawMessage) (any, error) {
	if dt == "BOOL" {
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return nil, fmt.Errorf("%s is not a BOOL", clip(v))
		}
		return b, nil
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		return nil, fmt.Errorf("%s is not a number", clip(v))
	}
	if f < rng[0] || f > rng[1] {
		return nil, fmt.Errorf("%s is out of the range of %s", clip(v), dt)
	}
	if dt[0] == 'I' || dt[0] == 'U' {
		if f != math.Trunc(f) {
			return nil, fmt.Errorf("%s is not an integer (%s)", clip(v), dt)
		}
	}
	return f, nil
}

func clip(b []byte) string {
	if len(b) > 32 {
		return string(b[:32]) + "…"
	}
	return string(b)
}

// outputs maps the factory's responses, one per request, to output
// tensors: all numbers → FP64 [N]; all arrays of numbers of one length K →
// FP64 [N, K]; all strings → BYTES [N]; anything else, or a BYTES input →
// BYTES [N] of each response verbatim.
func outputs(resps [][]byte, bytesIn bool) []outTensor {
	n := int64(len(resps))
	verbatim := func() []outTensor {
		data := make([]any, len(resps))
		for i, r := range resps {
			data[i] = string(r)
		}
		return []outTensor{{Name: "output", Shape: []int64{n}, Datatype: "BYTES", Data: data}}
	}
	if bytesIn || len(resps) == 0 {
		return verbatim()
	}
	var kind string
	width := -1
	data := make([]any, 0, len(resps))
	for _, r := range resps {
		var v any
		if err := json.Unmarshal(r, &v); err != nil {
			return verbatim()
		}
		k := ""
		switch x := v.(type) {
		case float64:
			k = "num"
			data = append(data, x)
		case string:
			k = "str"
			data = append(data, x)
		case []any:
			k = "arr"
			if width >= 0 && len(x) != width {
				return verbatim()
			}
			width = len(x)
			for _, e := range x {
				f, ok := e.(float64)
				if !ok {
					return verbatim()
				}
				data = append(data, f)
			}
		default:
			return verbatim()
		}
		if kind != "" && k != kind {
			return verbatim()
		}
		kind = k
	}
	switch kind {
	case "num":
		return []outTensor{{Name: "output", Shape: []int64{n}, Datatype: "FP64", Data: data}}
	case "str":
		return []outTensor{{Name: "output", Shape: []int64{n}, Datatype: "BYTES", Data: data}}
	default:
		return []outTensor{{Name: "output", Shape: []int64{n, int64(width)}, Datatype: "FP64", Data: data}}
	}
}
