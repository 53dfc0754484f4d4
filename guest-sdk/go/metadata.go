package wasmreg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Capabilities returns the capability names of ABI v1 (docs/ABI.md §4.2),
// sorted: what [Info.Capabilities] may list. It is the SDK's own copy of
// the host's list, since the SDK must not import the host; a test of the
// wasmreg module checks that the two agree.
func Capabilities() []string {
	return []string{"artifact", "clock", "log", "random"}
}

// Datatypes returns the tensor datatypes of ABI v1 (docs/ABI.md §5), in
// the Open Inference Protocol's order: what [Tensor.Datatype] may be. Like
// [Capabilities], a test of the wasmreg module checks it against the host.
func Datatypes() []string {
	return []string{"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
		"FP16", "FP32", "FP64", "BYTES"}
}

const maxNameLen = 128

// The limits of a declared signature, as wasmreg hosts check them.
const (
	maxInputs     = 1
	maxOutputs    = 16
	maxRank       = 16
	maxDim        = 1 << 24
	maxTensorName = 128
)

// metadata is the JSON object of docs/ABI.md §5.
type metadata struct {
	Name         string          `json:"name"`
	Version      string          `json:"version"`
	Description  string          `json:"description,omitempty"`
	ConfigSchema json.RawMessage `json:"config_schema,omitempty"`
	Capabilities []string        `json:"capabilities,omitempty"`
	Tensors      *tensors        `json:"tensors,omitempty"`
}

type tensors struct {
	Inputs  []tensorJSON `json:"inputs,omitempty"`
	Outputs []tensorJSON `json:"outputs,omitempty"`
}

type tensorJSON struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// Validate reports what [Register] would refuse in info: an empty or
// malformed name or version, a ConfigSchema that is not a JSON object, an
// unknown or repeated capability. The rules are a wasmreg host's, so that
// a factory whose Info validates is not refused for its metadata at load;
// a native test of a factory can call it.
func (info Info) Validate() error {
	if err := checkName(info.Name); err != nil {
		return fmt.Errorf("Info.Name %q: %w", info.Name, err)
	}
	if err := checkVersion(info.Version); err != nil {
		return fmt.Errorf("Info.Version %q: %w", info.Version, err)
	}
	if s := strings.TrimSpace(info.ConfigSchema); s != "" {
		if !json.Valid([]byte(s)) {
			var v any
			err := json.Unmarshal([]byte(s), &v)
			return fmt.Errorf("Info.ConfigSchema of %q is not valid JSON: %w", info.Name, err)
		}
		if s[0] != '{' {
			return fmt.Errorf("Info.ConfigSchema of %q is not a JSON object (a JSON Schema is an object)", info.Name)
		}
	}
	known := Capabilities()
	for i, c := range info.Capabilities {
		if !slices.Contains(known, c) {
			return fmt.Errorf("Info.Capabilities of %q: unknown capability %q (known: %s)", info.Name, c, strings.Join(known, ", "))
		}
		if slices.Contains(info.Capabilities[:i], c) {
			return fmt.Errorf("Info.Capabilities of %q: %q listed twice", info.Name, c)
		}
	}
	if len(info.Inputs) > maxInputs {
		return fmt.Errorf("Info.Inputs of %q: %d tensors, at most %d (a request is one tensor)", info.Name, len(info.Inputs), maxInputs)
	}
	if len(info.Outputs) > maxOutputs {
		return fmt.Errorf("Info.Outputs of %q: %d tensors, at most %d", info.Name, len(info.Outputs), maxOutputs)
	}
	for _, side := range []struct {
		field string
		list  []Tensor
	}{{"Inputs", info.Inputs}, {"Outputs", info.Outputs}} {
		for i, t := range side.list {
			where := fmt.Sprintf("Info.%s[%d] of %q", side.field, i, info.Name)
			if err := t.validate(); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			for _, prev := range side.list[:i] {
				if prev.Name == t.Name {
					return fmt.Errorf("%s: name %q declared twice", where, t.Name)
				}
			}
		}
	}
	return nil
}

// validate checks one tensor as wasmreg hosts do.
func (t Tensor) validate() error {
	switch {
	case t.Name == "":
		return fmt.Errorf("empty Tensor.Name")
	case len(t.Name) > maxTensorName:
		return fmt.Errorf("Tensor.Name of %d bytes, more than %d", len(t.Name), maxTensorName)
	case !utf8.ValidString(t.Name):
		return fmt.Errorf("Tensor.Name %q is not valid UTF-8", t.Name)
	}
	for i, r := range t.Name {
		if unicode.IsControl(r) {
			return fmt.Errorf("Tensor.Name %q has control character %U at byte %d", t.Name, r, i)
		}
	}
	if !slices.Contains(Datatypes(), t.Datatype) {
		return fmt.Errorf("tensor %q: Datatype %q is not one of %s", t.Name, t.Datatype, strings.Join(Datatypes(), ", "))
	}
	if len(t.Shape) > maxRank {
		return fmt.Errorf("tensor %q: Shape has %d dimensions, at most %d", t.Name, len(t.Shape), maxRank)
	}
	for i, d := range t.Shape {
		if d < -1 || d > maxDim {
			return fmt.Errorf("tensor %q: Shape[%d] is %d, want -1 (variable) or 0 to %d", t.Name, i, d, maxDim)
		}
	}
	return nil
}

func tensorsJSON(list []Tensor) []tensorJSON {
	out := make([]tensorJSON, len(list))
	for i, t := range list {
		shape := t.Shape
		if shape == nil {
			shape = []int64{} // a scalar: [], never null
		}
		out[i] = tensorJSON{Name: t.Name, Datatype: t.Datatype, Shape: shape}
	}
	return out
}

// marshalInfo validates info and returns its metadata JSON.
func marshalInfo(info Info) ([]byte, error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	md := metadata{Name: info.Name, Version: info.Version, Description: info.Description, Capabilities: info.Capabilities}
	if len(info.Inputs)+len(info.Outputs) > 0 {
		md.Tensors = &tensors{Inputs: tensorsJSON(info.Inputs), Outputs: tensorsJSON(info.Outputs)}
	}
	if s := strings.TrimSpace(info.ConfigSchema); s != "" {
		md.ConfigSchema = json.RawMessage(s)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(md); err != nil { // compacts and checks the schema again
		return nil, fmt.Errorf("metadata of %q: %w", info.Name, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("empty name")
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("%d bytes, more than %d", len(name), maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("byte %d is %q; allowed are ASCII letters, digits, '.', '_' and '-'", i, c)
		}
	}
	return nil
}

// checkVersion accepts a semantic version (semver.org 2.0.0) without build
// metadata: wasmreg hosts refuse "+build", which semantic versioning ignores
// when ordering versions.
func checkVersion(v string) error {
	const want = "want a semantic version MAJOR.MINOR.PATCH[-PRERELEASE]"
	if v == "" {
		return fmt.Errorf("empty version; %s", want)
	}
	if v[0] == 'v' || v[0] == 'V' {
		return fmt.Errorf("leading %q; %s, such as %q", v[:1], want, v[1:])
	}
	if strings.Contains(v, "+") {
		return fmt.Errorf("build metadata (%q) is refused by wasmreg hosts; %s", v[strings.Index(v, "+"):], want)
	}
	core, pre, hasPre := strings.Cut(v, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return fmt.Errorf("%d dot-separated numbers; %s", len(parts), want)
	}
	for _, p := range parts {
		if !numeric(p) {
			return fmt.Errorf("%q is not a number without leading zeros; %s", p, want)
		}
		// Hosts read each number as a uint64 to order versions.
		if _, err := strconv.ParseUint(p, 10, 64); err != nil {
			return fmt.Errorf("%q is larger than %d; %s", p, uint64(math.MaxUint64), want)
		}
	}
	if hasPre {
		for _, id := range strings.Split(pre, ".") {
			if id == "" {
				return fmt.Errorf("empty pre-release identifier; %s", want)
			}
			for i := 0; i < len(id); i++ {
				c := id[i]
				if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
					return fmt.Errorf("pre-release identifier %q has %q; allowed are ASCII letters, digits and '-'", id, c)
				}
			}
			if allDigits(id) && !numeric(id) {
				return fmt.Errorf("numeric pre-release identifier %q has a leading zero", id)
			}
		}
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// numeric reports whether s is a decimal number without leading zeros.
func numeric(s string) bool {
	return allDigits(s) && (s == "0" || s[0] != '0')
}
