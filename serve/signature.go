package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/safetext"
	"github.com/wasmreg/wasmreg/serve/oippb"
)

// The generic mapping's tensors, which model metadata reports for a side
// the factory's signature does not declare (docs/SERVE.md).
var (
	genericInput  = metadataTensor{Name: "input", Datatype: "FP32", Shape: []int64{-1, -1}}
	genericOutput = metadataTensor{Name: "output", Datatype: "FP64", Shape: []int64{-1, -1}}
)

// tensorsMetadata returns the inputs and outputs model metadata reports:
// the declared ones, the generic ones for a side that declares none.
func (m *served) tensorsMetadata() (inputs, outputs []metadataTensor) {
	conv := func(specs []host.TensorSpec, generic metadataTensor) []metadataTensor {
		if len(specs) == 0 {
			return []metadataTensor{{Name: generic.Name, Datatype: generic.Datatype, Shape: slices.Clone(generic.Shape)}}
		}
		out := make([]metadataTensor, len(specs))
		for i, s := range specs {
			out[i] = metadataTensor{Name: s.Name, Datatype: s.Datatype, Shape: slices.Clone(s.Shape)}
		}
		return out
	}
	return conv(m.sig.Inputs, genericInput), conv(m.sig.Outputs, genericOutput)
}

// grpcTensorsMetadata is tensorsMetadata for ModelMetadataResponse.
func (m *served) grpcTensorsMetadata() (inputs, outputs []*oippb.ModelMetadataResponse_TensorMetadata) {
	in, out := m.tensorsMetadata()
	conv := func(ts []metadataTensor) []*oippb.ModelMetadataResponse_TensorMetadata {
		r := make([]*oippb.ModelMetadataResponse_TensorMetadata, len(ts))
		for i, t := range ts {
			r[i] = &oippb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
		}
		return r
	}
	return conv(in), conv(out)
}

// checkInput checks a request's input tensor against the declared input,
// if there is one: the same name and datatype, the same rank, and every
// fixed dimension equal. Its data is checked later, as for every request.
func (m *served) checkInput(t tensor) error {
	if len(m.sig.Inputs) == 0 {
		return nil
	}
	want := m.sig.Inputs[0]
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: model %q: input %s: %s", ErrBadRequest, m.spec.Name, strconv.Quote(clipString(t.Name)), fmt.Sprintf(format, args...))
	}
	if t.Name != want.Name {
		return bad("the model's signature declares its input %q", want.Name)
	}
	if t.Datatype != want.Datatype {
		return bad("datatype %s, the model's signature declares %s", strconv.Quote(clipString(t.Datatype)), want.Datatype)
	}
	if len(t.Shape) != len(want.Shape) || !dimsMatch(t.Shape, want.Shape) {
		return bad("shape %v, the model's signature declares %v (-1: any size)", clipShape(t.Shape), want.Shape)
	}
	return nil
}

func dimsMatch(got, want []int64) bool {
	for i, d := range want {
		if d >= 0 && got[i] != d {
			return false
		}
	}
	return true
}

func clipString(s string) string { return clip([]byte(s)) }

func clipShape(s []int64) []int64 {
	if len(s) > 20 {
		return s[:20]
	}
	return s
}

// outputsOf maps the factory's responses to the output tensors: the
// generic mapping, or the declared outputs (docs/SERVE.md). A response
// that disagrees with the declared outputs is the factory's fault:
// [ErrBadResponse].
func (m *served) outputsOf(resps [][]byte, bytesIn bool) ([]outTensor, error) {
	if len(m.sig.Outputs) == 0 {
		return outputs(resps, bytesIn), nil
	}
	return declaredOutputs(m.spec.Name, m.sig.Outputs, resps)
}

// declaredOutputs maps responses to the declared outputs. A response that
// is a JSON object holds outputs by name, each field one declared output;
// any other response is the value of the only declared output, and a
// response that is not JSON is, for a sole BYTES output, its element
// verbatim. Every row
// must hold the same outputs; an output no row holds is left out of the
// response. Output k's tensor is [N, value's shape…], checked against its
// declared shape, its values against its datatype. No responses (a batch
// of 0 rows) answer every declared output, empty.
func declaredOutputs(model string, specs []host.TensorSpec, resps [][]byte) ([]outTensor, error) {
	bad := func(row int, format string, args ...any) error {
		return fmt.Errorf("%w: model %q: row %d: %s", ErrBadResponse, model, row, fmt.Sprintf(format, args...))
	}
	if len(resps) == 0 { // an empty batch: every output empty
		out := make([]outTensor, len(specs))
		for i, spec := range specs {
			shape := make([]int64, len(spec.Shape))
			for k, d := range spec.Shape {
				shape[k] = max(d, 0) // the batch, and every variable dimension, 0
			}
			out[i] = outTensor{Name: spec.Name, Shape: shape, Datatype: spec.Datatype, Data: []any{}}
		}
		return out, nil
	}
	rows := make([]map[string]json.RawMessage, len(resps))
	for i, r := range resps {
		if !json.Valid(r) {
			if len(specs) == 1 && specs[0].Datatype == "BYTES" {
				s, _ := json.Marshal(string(r)) // the sole BYTES output, verbatim
				rows[i] = map[string]json.RawMessage{specs[0].Name: s}
				continue
			}
			return nil, bad(i, "the response %s is not JSON, as the model's declared outputs need (but a sole BYTES output)", guestText(r))
		}
		r = bytes.TrimSpace(r)
		if r[0] != '{' {
			if len(specs) != 1 {
				return nil, bad(i, "the response %s is not an object holding the %d outputs the model's signature declares", guestText(r), len(specs))
			}
			rows[i] = map[string]json.RawMessage{specs[0].Name: r}
			continue
		}
		if err := json.Unmarshal(r, &rows[i]); err != nil {
			return nil, bad(i, "the response: %v", err)
		}
		for k := range rows[i] {
			if !slices.ContainsFunc(specs, func(s host.TensorSpec) bool { return s.Name == k }) {
				return nil, bad(i, "the response has field %s, which the model's signature does not declare as an output", strconv.Quote(clipString(k)))
			}
		}
	}
	var out []outTensor
	for _, spec := range specs {
		_, first := rows[0][spec.Name]
		var data []any
		var shape []int64
		for i, row := range rows {
			v, ok := row[spec.Name]
			if ok != first {
				return nil, bad(i, "output %q is in some rows' responses and not in others", spec.Name)
			}
			if !ok {
				continue
			}
			vals, s, err := tensorValue(spec.Datatype, v)
			if err != nil {
				return nil, bad(i, "output %q: %v", spec.Name, err)
			}
			if i == 0 {
				shape = s
			} else if !slices.Equal(s, shape) {
				return nil, bad(i, "output %q has shape %v, row 0's has %v", spec.Name, s, shape)
			}
			data = append(data, vals...)
		}
		if !first {
			continue
		}
		full := append([]int64{int64(len(rows))}, shape...)
		if len(full) != len(spec.Shape) || !dimsMatch(full, spec.Shape) {
			return nil, fmt.Errorf("%w: model %q: output %q has shape %v, the model's signature declares %v", ErrBadResponse, model, spec.Name, clipShape(full), spec.Shape)
		}
		out = append(out, outTensor{Name: spec.Name, Shape: full, Datatype: spec.Datatype, Data: data})
	}
	if len(out) == 0 {
		return nil, bad(0, "the response holds none of the outputs the model's signature declares")
	}
	return out, nil
}

// tensorValue reads one row's value of an output: a scalar, or nested
// arrays of one length per level, of the datatype's kind. It returns the
// values flat, in row-major order, and their shape.
func tensorValue(dt string, v json.RawMessage) ([]any, []int64, error) {
	var shape []int64
	var vals []any
	var walk func(v json.RawMessage, depth int) error
	walk = func(v json.RawMessage, depth int) error {
		v = bytes.TrimSpace(v)
		if len(v) > 0 && v[0] == '[' {
			if depth >= host.MaxTensorRank {
				return fmt.Errorf("nested deeper than %d", host.MaxTensorRank)
			}
			var items []json.RawMessage
			if err := json.Unmarshal(v, &items); err != nil {
				return err
			}
			switch {
			case depth == len(shape):
				if len(vals) > 0 {
					return fmt.Errorf("arrays nested unevenly")
				}
				shape = append(shape, int64(len(items)))
			case shape[depth] != int64(len(items)):
				return fmt.Errorf("arrays of %d and %d elements at depth %d", shape[depth], len(items), depth)
			}
			for _, it := range items {
				if err := walk(it, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		if depth != len(shape) {
			return fmt.Errorf("arrays nested unevenly")
		}
		if len(vals) >= maxElements {
			return fmt.Errorf("more than %d elements", maxElements)
		}
		x, err := outputElement(dt, v)
		if err != nil {
			return fmt.Errorf("element %d: %w", len(vals), err)
		}
		vals = append(vals, x)
		return nil
	}
	if err := walk(v, 0); err != nil {
		return nil, nil, err
	}
	return vals, shape, nil
}

// outputElement reads one element of an output as its datatype says:
// BYTES a string, BOOL true or false, an integer type an integer in its
// range, a float type a number in its range.
func outputElement(dt string, v json.RawMessage) (any, error) {
	if bytes.Equal(v, []byte("null")) { // encoding/json reads it as the zero value
		return nil, fmt.Errorf("null is not a value of %s", dt)
	}
	switch dt {
	case "BYTES":
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("%s is not a string (BYTES)", guestText(v))
		}
		return s, nil
	case "BOOL":
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return nil, fmt.Errorf("%s is not a BOOL", guestText(v))
		}
		return b, nil
	}
	var num json.Number
	if err := json.Unmarshal(v, &num); err != nil {
		return nil, fmt.Errorf("%s is not a number (%s)", guestText(v), dt)
	}
	s := num.String()
	switch dt {
	case "INT8", "INT16", "INT32", "INT64":
		bits := map[string]int{"INT8": 8, "INT16": 16, "INT32": 32, "INT64": 64}[dt]
		n, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("%s is not an integer in the range of %s", guestText(v), dt)
		}
		return n, nil
	case "UINT8", "UINT16", "UINT32", "UINT64":
		bits := map[string]int{"UINT8": 8, "UINT16": 16, "UINT32": 32, "UINT64": 64}[dt]
		n, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("%s is not an integer in the range of %s", guestText(v), dt)
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if rng, ok := numericTypes[dt]; err != nil || !ok || f < rng[0] || f > rng[1] || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%s is out of the range of %s", guestText(v), dt)
	}
	if dt != "FP64" {
		// Rounded once, from the factory's digits: a factory that writes
		// a float32's shortest digits gets that float32 back, in REST's
		// JSON as in gRPC's fp32_contents.
		f32, _ := strconv.ParseFloat(s, 32)
		return float32(f32), nil
	}
	return f, nil
}

// guestText is a factory's bytes, safe to quote in an error: escaped as
// internal/safetext escapes guest text, and cut to 32 bytes.
func guestText(b []byte) string { return safetext.Field(string(b), 32) }

// contentsOf renders an output tensor's data in the typed contents field
// of its datatype (ModelInferResponse).
func contentsOf(o outTensor) *oippb.InferTensorContents {
	c := &oippb.InferTensorContents{}
	for _, v := range o.Data {
		switch x := v.(type) {
		case string:
			c.BytesContents = append(c.BytesContents, []byte(x))
		case bool:
			c.BoolContents = append(c.BoolContents, x)
		case int64:
			if o.Datatype == "INT64" {
				c.Int64Contents = append(c.Int64Contents, x)
			} else {
				c.IntContents = append(c.IntContents, int32(x))
			}
		case uint64:
			if o.Datatype == "UINT64" {
				c.Uint64Contents = append(c.Uint64Contents, x)
			} else {
				c.UintContents = append(c.UintContents, uint32(x))
			}
		case float32:
			c.Fp32Contents = append(c.Fp32Contents, x)
		case float64:
			if o.Datatype == "FP64" {
				c.Fp64Contents = append(c.Fp64Contents, x)
			} else {
				c.Fp32Contents = append(c.Fp32Contents, float32(x))
			}
		}
	}
	return c
}

// checkRequested checks the names of the outputs a request asks for
// (OIP's "outputs") against the outputs the model answers, before any
// guest runs: an unknown name is a 400, as Triton answers it. It returns
// the names in the order asked, nil for all.
func (m *served) checkRequested(names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	_, outs := m.tensorsMetadata()
	known := make([]string, len(outs))
	for i, o := range outs {
		known[i] = o.Name
	}
	seen := map[string]bool{}
	for _, n := range names {
		switch {
		case !slices.Contains(known, n):
			return nil, fmt.Errorf("%w: model %q: requested output %q: the model's outputs are %q", ErrBadRequest, m.spec.Name, n, known)
		case seen[n]:
			return nil, fmt.Errorf("%w: model %q: output %q requested twice", ErrBadRequest, m.spec.Name, n)
		}
		seen[n] = true
	}
	return names, nil
}

// selectOutputs keeps the outputs requested, in the order asked (all of
// them for nil); an output that no row answered stays left out.
func selectOutputs(outs []outTensor, requested []string) []outTensor {
	if requested == nil {
		return outs
	}
	sel := make([]outTensor, 0, len(requested))
	for _, n := range requested {
		for _, o := range outs {
			if o.Name == n {
				sel = append(sel, o)
			}
		}
	}
	return sel
}
