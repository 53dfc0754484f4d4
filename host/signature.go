package host

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of a declared tensor signature (docs/ABI.md §5).
const (
	// MaxSignatureInputs is how many inputs a signature may declare: the
	// generic mapping of docs/SERVE.md takes exactly one input tensor.
	MaxSignatureInputs = 1
	// MaxSignatureOutputs is how many outputs a signature may declare.
	MaxSignatureOutputs = 16
	// MaxTensorRank is how many dimensions a declared shape may have.
	MaxTensorRank = 16
	// MaxTensorDim is the largest fixed dimension a declared shape may
	// have: no tensor the server accepts holds more elements.
	MaxTensorDim = 1 << 24
	// MaxTensorName is the longest tensor name, in bytes.
	MaxTensorName = 128
)

// Datatypes returns the tensor datatypes a signature may declare: the
// Open Inference Protocol's, in its order. It is safe for concurrent use;
// the caller may modify the result.
func Datatypes() []string {
	return []string{"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
		"FP16", "FP32", "FP64", "BYTES"}
}

// TensorSpec is one tensor of a factory's declared signature: its name,
// its Open Inference Protocol datatype ("FP32", "INT64", "BYTES", …) and
// its shape, where -1 is a variable dimension. It is a plain value: safe
// for concurrent reads, not for a write concurrent with other use. A
// TensorSpec returned by [Factory.Signature] is the caller's own copy.
type TensorSpec struct {
	Name     string
	Datatype string
	Shape    []int64
}

// Signature is the tensor signature a factory declares in its metadata's
// "tensors" field (docs/ABI.md §5). Either list may be empty: that side
// keeps the generic mapping of docs/SERVE.md. It is a plain value, like
// [TensorSpec]. A Signature returned by [Factory.Signature] is the
// caller's own copy, safe for concurrent use as long as nobody modifies it.
type Signature struct {
	Inputs  []TensorSpec
	Outputs []TensorSpec
}

// Signature returns the factory's declared tensor signature, and false if
// its metadata declares none. It is safe for concurrent use; the caller may
// modify the result.
func (f *Factory) Signature() (Signature, bool) {
	if f.sig == nil {
		return Signature{}, false
	}
	return Signature{Inputs: cloneSpecs(f.sig.Inputs), Outputs: cloneSpecs(f.sig.Outputs)}, true
}

func cloneSpecs(specs []TensorSpec) []TensorSpec {
	if specs == nil {
		return nil
	}
	out := make([]TensorSpec, len(specs))
	for i, s := range specs {
		out[i] = TensorSpec{Name: s.Name, Datatype: s.Datatype, Shape: slices.Clone(s.Shape)}
	}
	return out
}

// parseSignature reads the metadata's "tensors" field strictly: only the
// known keys, each once, every name, datatype and shape within the limits.
// It reports every problem of the signature at once, each naming its path
// (tensors.inputs[0].datatype) and the tensor, after where (which names
// the export), and wrapping [ErrBadMetadata]; the signature is nil if there
// is any.
func parseSignature(where string, raw json.RawMessage) (*Signature, []error) {
	var probs []error
	bad := func(path, format string, args ...any) {
		probs = append(probs, fmt.Errorf("%w: %s: tensors%s: %s", ErrBadMetadata, where, path, fmt.Sprintf(format, args...)))
	}
	// encoding/json would quietly read bad UTF-8 as U+FFFD.
	if !utf8.Valid(raw) {
		bad("", "not valid UTF-8")
		return nil, probs
	}
	fields, ok := objectFields(raw, []string{"inputs", "outputs"}, "", `{"inputs": [...], "outputs": [...]}`, bad)
	if !ok {
		return nil, probs
	}
	sig := &Signature{}
	for _, side := range []struct {
		key  string
		max  int
		dest *[]TensorSpec
	}{{"inputs", MaxSignatureInputs, &sig.Inputs}, {"outputs", MaxSignatureOutputs, &sig.Outputs}} {
		v, ok := fields[side.key]
		if !ok {
			continue
		}
		path := "." + side.key
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil || items == nil {
			bad(path, "must be an array of tensors, not %s", jsonKind(v))
			continue
		}
		if len(items) > side.max {
			bad(path, "declares %d tensors, at most %d", len(items), side.max)
		}
		seen := map[string]int{}
		for i, item := range items {
			at := fmt.Sprintf("%s[%d]", path, i)
			spec, ok := parseTensorSpec(at, item, bad)
			if !ok {
				continue
			}
			if j, dup := seen[spec.Name]; dup {
				bad(at+".name", "%s is declared twice (also %s[%d])", quoteField(spec.Name), side.key, j)
				continue
			}
			seen[spec.Name] = i
			*side.dest = append(*side.dest, spec)
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	if len(sig.Inputs) == 0 && len(sig.Outputs) == 0 {
		bad("", "declares no tensor: give \"inputs\" or \"outputs\", or leave the field out")
		return nil, probs
	}
	return sig, nil
}

// objectFields reads raw as a JSON object with keys among known, reporting
// each problem at path through bad; ok is false if raw is not an object.
// example shows what the object looks like.
func objectFields(raw json.RawMessage, known []string, path, example string, bad func(path, format string, args ...any)) (map[string]json.RawMessage, bool) {
	if jsonKind(raw) != "an object" {
		bad(path, "must be a JSON object such as %s, not %s", example, jsonKind(raw))
		return nil, false
	}
	fields, probs := readObject(raw, known)
	if fields == nil { // cannot happen: the metadata was read as JSON
		bad(path, "%s", strings.TrimPrefix(probs[0], "it "))
		return nil, false
	}
	for _, p := range probs {
		bad(path, "%s", p)
	}
	return fields, true
}

// parseTensorSpec reads one {"name", "datatype", "shape"} object at path,
// reporting each of its problems through bad, after its name when it has a
// good one; ok is false if there was any.
func parseTensorSpec(path string, raw json.RawMessage, bad func(path, format string, args ...any)) (spec TensorSpec, ok bool) {
	n := 0
	report := func(p, format string, args ...any) {
		n++
		bad(p, format, args...)
	}
	fields, isObject := objectFields(raw, []string{"name", "datatype", "shape"}, path,
		`{"name": "input", "datatype": "FP32", "shape": [-1, 64]}`, report)
	if !isObject {
		return TensorSpec{}, false
	}
	for _, key := range []string{"name", "datatype", "shape"} {
		if _, ok := fields[key]; !ok {
			report(path, "field %q is required", key)
		}
	}
	tensor := "" // " (tensor \"x\")" once the name is good
	if v, ok := fields["name"]; ok {
		switch err := json.Unmarshal(v, &spec.Name); {
		case err != nil:
			report(path+".name", "must be a string, not %s", jsonKind(v))
		default:
			if err := checkTensorName(spec.Name); err != nil {
				report(path+".name", "%s: %v", quoteField(spec.Name), err)
			} else {
				tensor = fmt.Sprintf(" (tensor %s)", quoteField(spec.Name))
			}
		}
	}
	if v, ok := fields["datatype"]; ok {
		switch err := json.Unmarshal(v, &spec.Datatype); {
		case err != nil:
			report(path+".datatype"+tensor, "must be a string, not %s", jsonKind(v))
		case !slices.Contains(Datatypes(), spec.Datatype):
			report(path+".datatype"+tensor, "%s is not one of %s", quoteField(spec.Datatype), quotedList(Datatypes()))
		}
	}
	if v, ok := fields["shape"]; ok {
		var dims []json.RawMessage
		switch err := json.Unmarshal(v, &dims); {
		case err != nil || dims == nil:
			report(path+".shape"+tensor, "must be an array of integers (-1 for a variable dimension), not %s", jsonKind(v))
		case len(dims) > MaxTensorRank:
			report(path+".shape"+tensor, "has %d dimensions, at most %d", len(dims), MaxTensorRank)
		default:
			spec.Shape = make([]int64, len(dims))
			for i, dim := range dims {
				at := fmt.Sprintf("%s.shape[%d]%s", path, i, tensor)
				d := &spec.Shape[i]
				switch err := json.Unmarshal(dim, d); {
				case jsonKind(dim) != "a number":
					report(at, "must be an integer (-1 for a variable dimension), not %s", jsonKind(dim))
				case err != nil:
					report(at, "%s is not an integer from -1 (variable) to %d", clipName(string(bytes.TrimSpace(dim))), MaxTensorDim)
				case *d < -1 || *d > MaxTensorDim:
					report(at, "%d is not -1 (variable) or 0 to %d", *d, MaxTensorDim)
				}
			}
		}
	}
	return spec, n == 0
}

func checkTensorName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty")
	case len(name) > MaxTensorName:
		return fmt.Errorf("%d bytes, at most %d", len(name), MaxTensorName)
	case !utf8.ValidString(name):
		return fmt.Errorf("not valid UTF-8")
	}
	for i, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("control character %U at byte %d", r, i)
		}
	}
	return nil
}

func clipName(s string) string {
	if len(s) > 48 {
		return s[:48] + "…"
	}
	return s
}

// quotedList is names as an error lists them: "a", "b", "c".
func quotedList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return strings.Join(quoted, ", ")
}
