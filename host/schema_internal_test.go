package host

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// FuzzConfigSchema compiles hostile schemas and validates hostile configs
// against those that compile: never a panic, never a hang, and every
// refusal a ConfigError with at least one violation.
func FuzzConfigSchema(f *testing.F) {
	for _, seed := range [][2]string{
		{`{"type":"object","properties":{"n":{"type":"integer","minimum":1}},"required":["n"]}`, `{"n":0}`},
		{`{"$schema":"http://json-schema.org/draft-07/schema#","items":[{"type":"string"}],"additionalItems":false}`, `["a",1]`},
		{`{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"type":"null"}},"$ref":"#/$defs/a"}`, `null`},
		{`{"patternProperties":{"^x[0-9]+$":{"uniqueItems":true}}}`, `{"x1":[1,1],"x2":[{},{}]}`},
		{`{"oneOf":[{"type":"number"},{"type":"integer"}]}`, `1`},
		{`{"properties":{"a":{"$ref":"#"}}}`, `{"a":{"a":{}}}`},
		{`{"$ref":"https://example.com/x"}`, `{}`},
		{`{"pattern":"(a+)+$"}`, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"`},
		{`{"format":"regex"}`, `"(("`},
	} {
		f.Add([]byte(seed[0]), []byte(seed[1]))
	}
	f.Fuzz(func(t *testing.T, schema, config []byte) {
		if len(schema) > MaxMetadata {
			return
		}
		start := time.Now()
		sch, err := compileSchema(schema)
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("compiling a %d-byte schema took %s", len(schema), took)
		}
		if err != nil {
			if err.Error() == "" {
				t.Fatal("a refusal without a message")
			}
			return
		}
		fac := &Factory{fullName: "fuzz@1.0.0", schema: sch}
		start = time.Now()
		err = fac.validateConfig(config)
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("validating a %d-byte config took %s", len(config), took)
		}
		if err != nil {
			ce, ok := err.(*ConfigError)
			if !ok || len(ce.Violations) == 0 {
				t.Fatalf("validation failed with %T %v", err, err)
			}
		}
	})
}

func TestDuplicateKey(t *testing.T) {
	for _, tc := range []struct {
		json, ptr, key string
		found          bool
	}{
		{`{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}`, "", "", false},
		{`[1, {"k": 1, "k": 2}]`, "/1", "k", true},
		{`{"a/b": {"c~d": [0, 1, {"x": {}, "x": 0}]}}`, "/a~1b/c~0d/2", "x", true},
		{`{"": 1, "": 2}`, "", "", true},
		{`"scalar"`, "", "", false},
	} {
		t.Run(tc.json, func(t *testing.T) {
			ptr, key, found := duplicateKey([]byte(tc.json))
			assert.Equal(t, tc.found, found)
			assert.Equal(t, tc.ptr, ptr)
			assert.Equal(t, tc.key, key)
		})
	}
}
