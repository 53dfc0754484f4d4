package host

import (
	"encoding/json"
	"errors"
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
// where names the factory for the errors, which wrap [ErrBadMetadata].
func parseSignature(where string, raw json.RawMessage) (*Signature, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: field \"tensors\": %s", ErrBadMetadata, where, fmt.Sprintf(format, args...))
	}
	// encoding/json would quietly read bad UTF-8 as U+FFFD.
	if !utf8.Valid(raw) {
		return nil, bad("not valid UTF-8")
	}
	fields, err := strictObject(raw, "inputs", "outputs")
	if err != nil {
		return nil, bad("%v", err)
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
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil || items == nil {
			return nil, bad("field %q is not an array of tensors", side.key)
		}
		if len(items) > side.max {
			return nil, bad("field %q declares %d tensors, at most %d", side.key, len(items), side.max)
		}
		for i, item := range items {
			spec, err := parseTensorSpec(item)
			if err != nil {
				return nil, bad("%s[%d]%s", side.key, i, err)
			}
			for _, prev := range *side.dest {
				if prev.Name == spec.Name {
					return nil, bad("%s[%d]: name %q is declared twice", side.key, i, spec.Name)
				}
			}
			*side.dest = append(*side.dest, spec)
		}
	}
	if len(sig.Inputs) == 0 && len(sig.Outputs) == 0 {
		return nil, bad("declares no tensor: give \"inputs\" or \"outputs\", or leave the field out")
	}
	return sig, nil
}

// parseTensorSpec reads one {"name", "datatype", "shape"} object. Its
// errors begin with the tensor's name when it has a good one, so that
// parseSignature's "inputs[0]" prefix reads on.
func parseTensorSpec(raw json.RawMessage) (TensorSpec, error) {
	fields, err := strictObject(raw, "name", "datatype", "shape")
	if err != nil {
		return TensorSpec{}, fmt.Errorf(": %w", err)
	}
	var spec TensorSpec
	for _, key := range []string{"name", "datatype", "shape"} {
		if _, ok := fields[key]; !ok {
			return TensorSpec{}, fmt.Errorf(": field %q is required", key)
		}
	}
	if err := json.Unmarshal(fields["name"], &spec.Name); err != nil {
		return TensorSpec{}, fmt.Errorf(": field \"name\" is not a string")
	}
	if err := checkTensorName(spec.Name); err != nil {
		return TensorSpec{}, fmt.Errorf(": field \"name\" %s: %w", strconv.QuoteToASCII(clipName(spec.Name)), err)
	}
	at := fmt.Sprintf(" %q", spec.Name)
	if err := json.Unmarshal(fields["datatype"], &spec.Datatype); err != nil {
		return TensorSpec{}, fmt.Errorf("%s: field \"datatype\" is not a string", at)
	}
	if !slices.Contains(Datatypes(), spec.Datatype) {
		return TensorSpec{}, fmt.Errorf("%s: field \"datatype\" %s is not one of %s", at, strconv.QuoteToASCII(clipName(spec.Datatype)), quotedList(Datatypes()))
	}
	if err := json.Unmarshal(fields["shape"], &spec.Shape); err != nil || spec.Shape == nil {
		return TensorSpec{}, fmt.Errorf("%s: field \"shape\" is not an array of integers (-1 for a variable dimension)", at)
	}
	if len(spec.Shape) > MaxTensorRank {
		return TensorSpec{}, fmt.Errorf("%s: field \"shape\" has %d dimensions, at most %d", at, len(spec.Shape), MaxTensorRank)
	}
	for i, d := range spec.Shape {
		if d < -1 || d > MaxTensorDim {
			return TensorSpec{}, fmt.Errorf("%s: field \"shape\": dimension %d is %d, want -1 (variable) or 0 to %d", at, i, d, MaxTensorDim)
		}
	}
	return spec, nil
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

// strictObject decodes a JSON object whose keys must be among known, each
// at most once, matched exactly (encoding/json alone matches keys
// case-insensitively and keeps the last of duplicates).
func strictObject(raw json.RawMessage, known ...string) (map[string]json.RawMessage, error) {
	fields, probs := readObject(raw, known)
	if fields == nil {
		return nil, errors.New(strings.TrimPrefix(probs[0], "it "))
	}
	if len(probs) > 0 {
		return nil, errors.New(strings.Join(probs, "; "))
	}
	return fields, nil
}

// quotedList is names as an error lists them: "a", "b", "c".
func quotedList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return strings.Join(quoted, ", ")
}
