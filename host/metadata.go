package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wasmreg/wasmreg/registry"
)

// metadata is the JSON wasmreg_info writes (docs/ABI.md §5).
type metadata struct {
	Name         string
	Version      string
	Description  string
	ConfigSchema json.RawMessage
	Capabilities []string
	Tensors      json.RawMessage
}

// metadataFields are the keys wasmreg_info's JSON may have.
var metadataFields = []string{"name", "version", "description", "config_schema", "capabilities", "tensors"}

// parseMetadata reads what wasmreg_info wrote and checks every field,
// reporting every problem it finds at once, in the author's terms (the
// field, what it should be), as a *ModuleError.
func (f *Factory) parseMetadata(out []byte) error {
	var probs []error
	bad := func(kind error, format string, args ...any) {
		probs = append(probs, fmt.Errorf("%w: %s: %s", kind, ExportInfo, fmt.Sprintf(format, args...)))
	}
	module := f.fullName // sha256:…, until the name is known
	refused := func() error { return &ModuleError{Module: module, Problems: probs} }
	if len(out) > MaxMetadata {
		bad(ErrBadMetadata, "wrote %d bytes, the limit is %d", len(out), MaxMetadata)
		return refused()
	}
	fields, objProbs := readObject(out, metadataFields)
	if fields == nil {
		bad(ErrBadMetadata, "%s; it must write one JSON object such as {\"name\": \"mlp\", \"version\": \"1.0.0\"}", objProbs[0])
		return refused()
	}
	for _, p := range objProbs {
		bad(ErrBadMetadata, "%s", p)
	}
	var md metadata
	wrong := map[string]bool{} // fields with a problem of their own
	str := func(key string, dst *string) {
		raw, ok := fields[key]
		if !ok || isNull(raw) {
			return
		}
		switch err := json.Unmarshal(raw, dst); {
		case err != nil:
			bad(ErrBadMetadata, "field %q must be a string, not %s", key, jsonKind(raw))
			wrong[key] = true
		case !utf8.Valid(raw): // encoding/json would read it as U+FFFD
			bad(ErrBadMetadata, "field %q is not valid UTF-8", key)
			*dst = ""
			wrong[key] = true
		}
	}
	str("name", &md.Name)
	str("version", &md.Version)
	str("description", &md.Description)
	checkName := true
	for _, k := range []struct{ key, value string }{{"name", md.Name}, {"version", md.Version}} {
		if k.value == "" && !wrong[k.key] {
			bad(ErrBadMetadata, "field %q is required (a non-empty string)", k.key)
			checkName = false
		}
		if k.value == "" {
			checkName = false
		}
	}
	base, version := md.Name, md.Version
	if checkName {
		base, version = f.checkNameVersion(md.Name, md.Version, bad)
	}
	if base != "" && version != "" {
		module = base + "@" + version + " (" + f.fullName + ")"
	}
	if raw, ok := fields["config_schema"]; ok && !isNull(raw) {
		if jsonKind(raw) != "an object" {
			bad(ErrBadMetadata, "field \"config_schema\" must be a JSON Schema object, not %s", jsonKind(raw))
		} else if compiled, err := compileSchema(raw); err != nil {
			bad(ErrBadMetadata, "field \"config_schema\" is not a schema the host accepts: %v", err)
		} else {
			md.ConfigSchema = raw
			if !f.h.cfg.noConfigValidation {
				f.schema = compiled
			}
		}
	}
	if raw, ok := fields["capabilities"]; ok && !isNull(raw) {
		md.Capabilities = f.checkCapabilities(raw, bad)
	}
	if raw, ok := fields["tensors"]; ok && !isNull(raw) {
		sig, errs := parseSignature(ExportInfo, raw)
		probs = append(probs, errs...)
		f.sig = sig
	}
	if len(probs) > 0 {
		return refused()
	}
	f.fullName = base + "@" + version
	caps := slices.Clone(f.shape.capabilities)
	caps = append(caps, md.Capabilities...)
	slices.Sort(caps)
	f.info = registry.Info{
		Name:         base,
		Version:      version,
		Description:  md.Description,
		ConfigSchema: md.ConfigSchema,
		Capabilities: slices.Compact(caps),
	}
	if f.info.Capabilities == nil {
		f.info.Capabilities = []string{}
	}
	return nil
}

// checkNameVersion checks the metadata's name and version and returns them
// as the registry spells them: each problem names its field.
func (f *Factory) checkNameVersion(name, version string, bad func(error, string, ...any)) (string, string) {
	var ne *registry.NameError
	if strings.Contains(name, "@") {
		bad(ErrBadMetadata, "field \"name\" %s must not contain \"@\": give the version in field \"version\"", quoteField(name))
		return "", ""
	}
	if _, _, err := registry.ParseName(name); err != nil {
		if errors.As(err, &ne) {
			bad(ErrBadMetadata, "field \"name\" %s: %s", quoteField(name), ne.Reason)
		} else {
			bad(ErrBadMetadata, "field \"name\" %s: %v", quoteField(name), err)
		}
		return "", ""
	}
	base, v, err := registry.ParseName(name + "@" + version)
	if err == nil {
		return base, v
	}
	switch {
	case strings.Contains(version, "@"):
		bad(ErrBadMetadata, "field \"version\" %s must not contain \"@\"", quoteField(version))
	case errors.As(err, &ne):
		bad(ErrBadMetadata, "field \"version\": %s", ne.Reason)
	default:
		bad(ErrBadMetadata, "field \"version\" %s: %v", quoteField(version), err)
	}
	return "", ""
}

// checkCapabilities checks the metadata's capabilities and returns the
// good ones.
func (f *Factory) checkCapabilities(raw json.RawMessage, bad func(error, string, ...any)) []string {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		bad(ErrBadMetadata, "field \"capabilities\" must be an array of capability names such as [\"clock\"], not %s", jsonKind(raw))
		return nil
	}
	known := quotedList(Capabilities())
	var caps []string
	for i, item := range items {
		var c string
		if err := json.Unmarshal(item, &c); err != nil {
			bad(ErrBadMetadata, "field \"capabilities\"[%d] must be a capability name (a string), not %s", i, jsonKind(item))
			continue
		}
		switch {
		case !knownCapability(c):
			bad(ErrUnknownCapability, "field \"capabilities\"[%d] %s is not a capability this host knows (%s)", i, quoteField(c), known)
		case !f.h.cfg.grants[c] && !f.h.cfg.ungranted:
			bad(ErrNotGranted, "field \"capabilities\" asks for capability %q, which the host has not granted", c)
		default:
			caps = append(caps, c)
		}
	}
	return caps
}

// quoteField quotes a value the guest chose for an error: ASCII only,
// clipped.
func quoteField(s string) string { return strconv.QuoteToASCII(clipName(s)) }

// isNull reports whether raw is JSON null.
func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// jsonKind names the kind of the JSON value raw as an author reads it: "a
// string", "a number", "an array", "an object", "a boolean" or "null".
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '[':
		return "an array"
	case '{':
		return "an object"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// readObject reads raw as one JSON object whose keys must be among known,
// matched exactly (encoding/json alone matches keys case-insensitively
// and keeps the last of a repeated key). It returns the fields and every
// problem with the keys: each unknown key (suggesting the known one it
// differs from only in case), each repeated one. If raw is not a JSON
// object, fields is nil and the one problem says what it is instead.
func readObject(raw []byte, known []string) (map[string]json.RawMessage, []string) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return nil, []string{"it is empty"}
	}
	if !json.Valid(trimmed) {
		var se *json.SyntaxError
		var v any
		err := json.Unmarshal(trimmed, &v)
		if errors.As(err, &se) {
			return nil, []string{fmt.Sprintf("it is not valid JSON: %s at byte %d", se.Error(), se.Offset)}
		}
		return nil, []string{"it is not valid JSON"}
	}
	if trimmed[0] != '{' {
		return nil, []string{fmt.Sprintf("it is %s, not a JSON object", jsonKind(trimmed))}
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		return nil, []string{"it is not valid JSON"}
	}
	fields := map[string]json.RawMessage{}
	var order []string
	count := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return nil, []string{"it is not valid JSON"}
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, []string{"it is not valid JSON"}
		}
		if count[key] == 0 {
			order = append(order, key)
		}
		count[key]++
		fields[key] = v
	}
	if _, err := dec.Token(); err != nil { // }
		return nil, []string{"it is not valid JSON"}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, []string{"it has data after the JSON object"}
	}
	var probs []string
	for _, key := range order {
		if !slices.Contains(known, key) {
			msg := fmt.Sprintf("unknown field %s (fields are %s)", quoteField(key), quotedList(known))
			for _, k := range known {
				if strings.EqualFold(k, key) {
					msg = fmt.Sprintf("unknown field %s: did you mean %q? Field names are matched exactly", quoteField(key), k)
				}
			}
			probs = append(probs, msg)
			delete(fields, key)
			continue
		}
		if n := count[key]; n > 1 {
			probs = append(probs, fmt.Sprintf("field %q appears %d times; give it once", key, n))
		}
	}
	return fields, probs
}
