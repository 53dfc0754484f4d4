package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/wasmreg/wasmreg/internal/safetext"
)

// Bounds of a factory's config_schema (docs/ABI.md §5). The schema's text
// is already bounded by [MaxMetadata].
const (
	// MaxSchemaDepth is how deeply a config_schema's JSON may nest.
	MaxSchemaDepth = 32
	// MaxSchemaNodes bounds a config_schema's size as validation sees it:
	// its subschemas, each $ref counted as the subschema it refers to, so
	// that the cost of validating a config is at most this many checks
	// per value of the config.
	MaxSchemaNodes = 4096
	// MaxSchemaPattern is the longest regular expression ("pattern",
	// "patternProperties") a config_schema may hold, in bytes.
	MaxSchemaPattern = 1024
	// MaxConfigViolations is how many violations an [*ConfigError] lists.
	MaxConfigViolations = 20
)

// schemaURL is the location the host compiles a factory's schema at: the
// schema's own $id is ignored, and nothing is ever loaded from it.
const schemaURL = "wasmreg:///config_schema"

// The drafts a config_schema may declare with "$schema"; without one it is
// draft 2020-12.
var schemaDrafts = map[string]*jsonschema.Draft{
	"https://json-schema.org/draft/2020-12/schema": jsonschema.Draft2020,
	"http://json-schema.org/draft-07/schema":       jsonschema.Draft7,
}

// errNoLoading is the refusal of every $ref to another document.
var errNoLoading = errors.New("the host loads no schema: a $ref may refer only within config_schema")

// schemaPrinter words the violations.
var schemaPrinter = message.NewPrinter(language.English)

type refuseLoader struct{}

func (refuseLoader) Load(string) (any, error) { return nil, errNoLoading }

// schemaRegexp compiles a schema's patterns with Go's regexp (RE2:
// matching is linear in the text), refusing long ones.
func schemaRegexp(s string) (jsonschema.Regexp, error) {
	if len(s) > MaxSchemaPattern {
		return nil, fmt.Errorf("a pattern of %d bytes, the limit is %d", len(s), MaxSchemaPattern)
	}
	return regexp.Compile(s)
}

// compileSchema compiles a factory's config_schema, a JSON object, or
// says what is wrong with it.
func compileSchema(raw []byte) (*jsonschema.Schema, error) {
	if d := jsonDepth(raw); d > MaxSchemaDepth {
		return nil, fmt.Errorf("nested %d deep, the limit is %d", d, MaxSchemaDepth)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	if err := longPattern(doc); err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoader{})
	c.UseRegexpEngine(schemaRegexp)
	if v, has := obj["$schema"]; has {
		s, _ := v.(string)
		if schemaDrafts[strings.TrimSuffix(s, "#")] == nil {
			return nil, fmt.Errorf(`"$schema" is %s: the host knows draft 2020-12 (%q, the default) and draft 7 (%q)`,
				safetext.Line(fmt.Sprint(v), 200), "https://json-schema.org/draft/2020-12/schema", "http://json-schema.org/draft-07/schema#")
		}
	}
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, schemaProblem(err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, schemaProblem(err)
	}
	if n, ok := schemaNodes(sch, map[*jsonschema.Schema]int{}, map[*jsonschema.Schema]bool{}); !ok {
		return nil, errors.New("a $ref refers to a schema that contains it: the host refuses recursive schemas")
	} else if n > MaxSchemaNodes {
		return nil, fmt.Errorf("%d subschemas counting each $ref as what it refers to, the limit is %d", n, MaxSchemaNodes)
	}
	return sch, nil
}

// longPattern finds a "pattern" or a "patternProperties" key over
// MaxSchemaPattern anywhere in the schema's JSON, before the compiler
// quotes it whole.
func longPattern(v any) error {
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			if p, ok := sub.(string); ok && k == "pattern" && len(p) > MaxSchemaPattern {
				return fmt.Errorf(`a "pattern" of %d bytes, the limit is %d`, len(p), MaxSchemaPattern)
			}
			if pp, ok := sub.(map[string]any); ok && k == "patternProperties" {
				for p := range pp {
					if len(p) > MaxSchemaPattern {
						return fmt.Errorf(`a "patternProperties" pattern of %d bytes, the limit is %d`, len(p), MaxSchemaPattern)
					}
				}
			}
			if err := longPattern(sub); err != nil {
				return err
			}
		}
	case []any:
		for _, sub := range v {
			if err := longPattern(sub); err != nil {
				return err
			}
		}
	}
	return nil
}

// schemaProblem words a compile error without the host's URL for the
// schema.
func schemaProblem(err error) error {
	var sve *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	if errors.As(err, &sve) && errors.As(sve.Err, &ve) {
		// Every rule of the draft's metaschema it breaks, at its pointer.
		var vs []Violation
		collectViolations(ve, &vs)
		parts := make([]string, 0, len(vs))
		for i, v := range vs {
			if i == MaxConfigViolations {
				parts = append(parts, fmt.Sprintf("and %d more", len(vs)-i))
				break
			}
			parts = append(parts, v.String())
		}
		return errors.New(safetext.Line("not valid against its draft's metaschema: "+strings.Join(parts, "; "), MaxErrorMessage))
	}
	msg := strings.ReplaceAll(err.Error(), schemaURL, "config_schema")
	return errors.New(safetext.Line(msg, MaxErrorMessage))
}

// schemaNodes counts the subschemas of s as validation visits them, each
// reference counted as the subschema it refers to (memo), up to past
// MaxSchemaNodes; false if a reference refers back to a schema being
// counted (on), which validation could follow without end.
func schemaNodes(s *jsonschema.Schema, memo map[*jsonschema.Schema]int, on map[*jsonschema.Schema]bool) (int, bool) {
	if s == nil {
		return 0, true
	}
	if n, ok := memo[s]; ok {
		return n, true
	}
	if on[s] {
		return 0, false
	}
	on[s] = true
	defer delete(on, s)
	total := 1
	add := func(subs ...*jsonschema.Schema) bool {
		for _, sub := range subs {
			n, ok := schemaNodes(sub, memo, on)
			if !ok {
				return false
			}
			total = min(total+n, MaxSchemaNodes+1)
		}
		return true
	}
	anys := func(vs ...any) []*jsonschema.Schema {
		var out []*jsonschema.Schema
		for _, v := range vs {
			switch v := v.(type) {
			case *jsonschema.Schema:
				out = append(out, v)
			case []*jsonschema.Schema:
				out = append(out, v...)
			}
		}
		return out
	}
	subs := []*jsonschema.Schema{s.Ref, s.RecursiveRef, s.Not, s.If, s.Then, s.Else, s.PropertyNames,
		s.UnevaluatedProperties, s.Contains, s.Items2020, s.UnevaluatedItems, s.ContentSchema}
	if s.DynamicRef != nil {
		subs = append(subs, s.DynamicRef.Ref)
	}
	subs = append(subs, s.AllOf...)
	subs = append(subs, s.AnyOf...)
	subs = append(subs, s.OneOf...)
	subs = append(subs, s.PrefixItems...)
	subs = append(subs, sortedSchemas(s.Properties)...)
	subs = append(subs, sortedSchemas(s.DependentSchemas)...)
	for _, sub := range s.PatternProperties {
		subs = append(subs, sub)
	}
	for _, v := range s.Dependencies {
		subs = append(subs, anys(v)...)
	}
	subs = append(subs, anys(s.AdditionalProperties, s.Items, s.AdditionalItems)...)
	if !add(subs...) {
		return 0, false
	}
	memo[s] = total
	return total, true
}

func sortedSchemas(m map[string]*jsonschema.Schema) []*jsonschema.Schema {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*jsonschema.Schema, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// jsonDepth returns how deeply the JSON text b nests arrays and objects,
// counting brackets outside strings; b need not be valid.
func jsonDepth(b []byte) int {
	depth, most := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			most = max(most, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return most
}

// Violation is one way a config breaks its factory's config_schema. It is
// a value, safe for concurrent use.
type Violation struct {
	// Pointer is the JSON pointer of the config's value that breaks the
	// rule, "" for the whole config.
	Pointer string
	// Rule says what the value must be, such as "must be >= 1".
	Rule string
}

// String returns "/layers/1: must be >= 1", or "(root): …" for the whole
// config.
func (v Violation) String() string {
	p := v.Pointer
	if p == "" {
		p = "(root)"
	}
	return p + ": " + v.Rule
}

// ConfigError is the error of a build whose config is not JSON or breaks
// the factory's config_schema: the host refused it before instantiating
// anything. Its Unwrap returns [ErrInvalidConfig].
//
// A ConfigError is immutable once returned and safe for concurrent use.
type ConfigError struct {
	// Factory is the factory's full name.
	Factory string
	// Violations lists every rule the config breaks, at most
	// [MaxConfigViolations] (Omitted counts the rest), in the order of
	// their pointers; one with an empty Pointer if the config is not JSON.
	Violations []Violation
	// Omitted is how many violations were left out of Violations.
	Omitted int
}

// Error implements error: the factory and every violation, "; "-separated.
func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: factory %q: the config breaks config_schema: ", ErrInvalidConfig, e.Factory)
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(v.String())
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "; and %d more", e.Omitted)
	}
	return b.String()
}

// Unwrap returns [ErrInvalidConfig].
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// validateConfig checks config against the factory's compiled schema, if
// it has one and the host validates configs.
func (f *Factory) validateConfig(config []byte) error {
	if f.schema == nil {
		return nil
	}
	// Validation is a pure function of the config under an immutable
	// schema: a config equal to the last that passed passes again. Request
	// isolation builds the same config for every request.
	if last := f.validConfig.Load(); last != nil && *last == string(config) {
		return nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(config))
	if err != nil {
		return &ConfigError{Factory: f.fullName, Violations: []Violation{{Rule: notJSON(err)}}}
	}
	// The schema sees the last of a repeated key, a factory may read the
	// first: a config could pass the one and give the other another value.
	if ptr, key, ok := duplicateKey(config); ok {
		return &ConfigError{Factory: f.fullName, Violations: []Violation{{Pointer: safetext.Line(ptr, 256),
			Rule: fmt.Sprintf("key %q appears more than once", safetext.Line(key, 200))}}}
	}
	err = f.schema.Validate(doc)
	var ve *jsonschema.ValidationError
	if err == nil {
		valid := string(config)
		f.validConfig.Store(&valid)
		return nil
	}
	if !errors.As(err, &ve) {
		return &ConfigError{Factory: f.fullName, Violations: []Violation{{Rule: safetext.Line(err.Error(), MaxErrorMessage)}}}
	}
	var vs []Violation
	collectViolations(ve, &vs)
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].Pointer < vs[j].Pointer })
	ce := &ConfigError{Factory: f.fullName, Violations: vs}
	if len(vs) > MaxConfigViolations {
		ce.Violations, ce.Omitted = vs[:MaxConfigViolations:MaxConfigViolations], len(vs)-MaxConfigViolations
	}
	return ce
}

// collectViolations appends the leaves of e's tree: the rules broken. Of
// an anyOf or oneOf that no branch satisfies, it keeps the branches that
// came closest (whose violations lie deepest in the config, then the
// fewest), as the config most likely meant one of those.
func collectViolations(e *jsonschema.ValidationError, out *[]Violation) {
	if len(e.Causes) == 0 {
		*out = append(*out, violationOf(e))
		return
	}
	if branchy(e.ErrorKind) {
		var best [][]Violation
		bestDepth, bestN := -1, 0
		for _, c := range e.Causes {
			var vs []Violation
			collectViolations(c, &vs)
			d := 0
			for _, v := range vs {
				d = max(d, strings.Count(v.Pointer, "/"))
			}
			switch {
			case d > bestDepth || (d == bestDepth && len(vs) < bestN):
				best, bestDepth, bestN = [][]Violation{vs}, d, len(vs)
			case d == bestDepth && len(vs) == bestN:
				best = append(best, vs)
			}
		}
		for _, vs := range best {
			*out = append(*out, vs...)
		}
		return
	}
	for _, c := range e.Causes {
		collectViolations(c, out)
	}
}

// branchy reports whether k is an anyOf or a oneOf that no branch
// satisfied, whose causes are its branches' failures.
func branchy(k jsonschema.ErrorKind) bool {
	switch k := k.(type) {
	case *kind.AnyOf:
		return true
	case *kind.OneOf:
		return k.Subschemas == nil
	}
	return false
}

func violationOf(e *jsonschema.ValidationError) Violation {
	ptr := ""
	for _, tok := range e.InstanceLocation {
		ptr += "/" + strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
	}
	rule := e.ErrorKind.LocalizedString(schemaPrinter)
	return Violation{Pointer: safetext.Line(ptr, 256), Rule: safetext.Line(rule, 512)}
}

// notJSON words why config is not JSON, with the byte offset if known.
func notJSON(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("is not JSON: at byte %d: %s", max(syn.Offset-1, 0), safetext.Line(syn.Error(), 200)) // Offset is past the byte
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "is not JSON: it ends too soon"
	}
	return "is not JSON: " + safetext.Line(err.Error(), 200)
}

// duplicateKey finds the first object key that appears twice in its
// object in the JSON text b, known to be valid, and returns the object's
// JSON pointer and the key.
func duplicateKey(b []byte) (ptr, key string, found bool) {
	type level struct {
		keys     map[string]bool // nil for an array
		afterKey bool            // in an object, a key was read: its value is next
		index    int             // in an array, the next element's index
		name     string          // the pointer token of the value being read
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var stack []*level
	for {
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		isKey := top != nil && top.keys != nil && !top.afterKey && dec.More()
		tok, err := dec.Token()
		if err != nil {
			return "", "", false
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		switch {
		case isKey:
			k, _ := tok.(string)
			if top.keys[k] {
				var p strings.Builder
				for _, l := range stack[:len(stack)-1] {
					p.WriteString("/" + strings.ReplaceAll(strings.ReplaceAll(l.name, "~", "~0"), "/", "~1"))
				}
				return p.String(), k, true
			}
			top.keys[k], top.name, top.afterKey = true, k, true
			continue
		case top != nil && top.keys != nil:
			top.afterKey = false
		case top != nil:
			top.name = fmt.Sprint(top.index)
			top.index++
		}
		if d, ok := tok.(json.Delim); ok {
			l := &level{}
			if d == '{' {
				l.keys = map[string]bool{}
			}
			stack = append(stack, l)
		}
	}
}
