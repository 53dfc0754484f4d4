package host_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
)

// withSchema returns the metadata of a schema guest with config_schema
// schema.
func withSchema(schema string) string {
	return `{"name":"schemaguest","version":"1.0.0","config_schema":` + schema + `}`
}

const layersSchema = `{
	"type": "object",
	"required": ["layers"],
	"properties": {
		"layers": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1},
		"activation": {"enum": ["relu", "tanh"]}
	},
	"additionalProperties": false
}`

func TestConfigSchemaValidation(t *testing.T) {
	ctx := context.Background()
	h, _ := newHost(t)
	f, err := h.Load(ctx, schemaGuest(withSchema(layersSchema)))
	require.NoError(t, err)

	for _, tc := range []struct {
		name, config string
		want         []string // the violations, in order; none if valid
	}{
		{"valid", `{"layers": [4, 2], "activation": "relu"}`, nil},
		{"one bad element", `{"layers": [4, 0]}`, []string{"/layers/1: minimum: got 0, want 1"}},
		{"every violation", `{"layers": [0, 2.5], "activation": "sigmoid", "extra": 1}`, []string{
			"(root): additional properties 'extra' not allowed",
			"/activation: value must be one of 'relu', 'tanh'",
			"/layers/0: minimum: got 0, want 1",
			"/layers/1: got number, want integer",
		}},
		{"missing", `{}`, []string{"(root): missing property 'layers'"}},
		{"empty config is {}", ``, []string{"(root): missing property 'layers'"}},
		{"not an object", `[1]`, []string{"(root): got array, want object"}},
		{"not JSON", `{"layers": [`, nil},
		{"repeated key", `{"layers": [1], "layers": [2]}`, []string{`(root): key "layers" appears more than once`}},
		{"repeated nested key", `{"layers": [1], "x": [{}, {"a": 1, "a": 2}]}`, []string{`/x/1: key "a" appears more than once`}},
		{"not JSON at a byte", `{"layers": [1,,]}`, []string{"(root): is not JSON: at byte 14: invalid character ',' looking for beginning of value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := f.Build(ctx, []byte(tc.config))
			if tc.want == nil && tc.name == "valid" {
				require.NoError(t, err)
				require.NoError(t, m.Close(ctx))
				return
			}
			require.ErrorIs(t, err, host.ErrInvalidConfig)
			var ce *host.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "schemaguest@1.0.0", ce.Factory)
			if tc.want == nil { // not JSON
				require.Len(t, ce.Violations, 1)
				assert.Contains(t, ce.Violations[0].Rule, "is not JSON")
				return
			}
			var got []string
			for _, v := range ce.Violations {
				got = append(got, v.String())
			}
			assert.Equal(t, tc.want, got)
			for _, w := range tc.want {
				assert.ErrorContains(t, err, w)
			}
			assert.ErrorContains(t, err, `host: invalid config: factory "schemaguest@1.0.0": the config breaks config_schema: `)
		})
	}

	t.Run("without validation", func(t *testing.T) {
		h, _ := newHost(t, host.WithoutConfigValidation())
		f, err := h.Load(ctx, schemaGuest(withSchema(layersSchema)))
		require.NoError(t, err)
		m, err := f.Build(ctx, []byte(`{"layers": "not checked"}`))
		require.NoError(t, err, "the factory validates its config itself")
		require.NoError(t, m.Close(ctx))
		_, err = h.Load(ctx, schemaGuest(withSchema(`{"type": 5}`)))
		require.ErrorIs(t, err, host.ErrBadMetadata, "a schema that does not compile is refused all the same")
	})

	t.Run("many violations are bounded", func(t *testing.T) {
		items := strings.Repeat("0,", 99) + "0"
		_, err := f.Build(ctx, []byte(`{"layers": [`+items+`]}`))
		var ce *host.ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Len(t, ce.Violations, host.MaxConfigViolations)
		assert.Equal(t, 100-host.MaxConfigViolations, ce.Omitted)
		assert.ErrorContains(t, err, fmt.Sprintf("; and %d more", ce.Omitted))
	})

	t.Run("the last valid config is remembered, exactly", func(t *testing.T) {
		valid := `{"layers": [4, 2], "activation": "relu"}`
		for _, config := range []string{valid, `{"layers": [4, 0], "activation": "relu"}`, valid[:len(valid)-1], valid + " ", valid} {
			m, err := f.Build(ctx, []byte(config))
			if config == valid || config == valid+" " {
				require.NoError(t, err, config)
				require.NoError(t, m.Close(ctx))
				continue
			}
			require.ErrorIs(t, err, host.ErrInvalidConfig, "%s: one byte from a valid config", config)
		}
	})

	t.Run("concurrent builds", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					_, err := f.Build(ctx, []byte(`{"layers": [0]}`))
					assert.ErrorIs(t, err, host.ErrInvalidConfig)
					return
				}
				m, err := f.Build(ctx, []byte(`{"layers": [1]}`))
				if assert.NoError(t, err) {
					assert.NoError(t, m.Close(ctx))
				}
			}()
		}
		wg.Wait()
	})
}

// TestConfigSchemaOneOf checks that a config that satisfies no branch of a
// oneOf is told what the branch it came closest to wants.
func TestConfigSchemaOneOf(t *testing.T) {
	ctx := context.Background()
	h, _ := newHost(t)
	f, err := h.Load(ctx, schemaGuest(withSchema(`{"oneOf": [
		{"type": "object", "required": ["layers"], "properties": {"layers": {"type": "array", "items": {"type": "integer", "minimum": 1}}}, "additionalProperties": false},
		{"type": "object", "required": ["weights"], "properties": {"weights": {"type": "string"}}, "additionalProperties": false}
	]}`)))
	require.NoError(t, err)
	for _, tc := range []struct {
		config string
		want   []string
	}{
		{`{"layers": [4, 0]}`, []string{"/layers/1: minimum: got 0, want 1"}},
		{`{"weights": 3}`, []string{"/weights: got number, want string"}},
		{`{}`, []string{"(root): missing property 'layers'", "(root): missing property 'weights'"}},
	} {
		t.Run(tc.config, func(t *testing.T) {
			_, err := f.Build(ctx, []byte(tc.config))
			var ce *host.ConfigError
			require.ErrorAs(t, err, &ce)
			var got []string
			for _, v := range ce.Violations {
				got = append(got, v.String())
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestConfigSchemaDrafts(t *testing.T) {
	ctx := context.Background()
	h, _ := newHost(t)
	for _, tc := range []struct{ name, schema, bad string }{
		{"2020-12 by default", `{"prefixItems": [{"type": "string"}]}`, `[1]`},
		{"2020-12", `{"$schema": "https://json-schema.org/draft/2020-12/schema", "prefixItems": [{"type": "string"}]}`, `[1]`},
		{"7", `{"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "string"}]}`, `[1]`},
		{"7 definitions", `{"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"n": {"type": "integer"}}, "properties": {"x": {"$ref": "#/definitions/n"}}}`, `{"x": "1"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := h.Load(ctx, schemaGuest(withSchema(tc.schema)))
			require.NoError(t, err)
			_, err = f.Build(ctx, []byte(tc.bad))
			require.ErrorIs(t, err, host.ErrInvalidConfig)
		})
	}
}

// TestConfigSchemaRefused checks that Load refuses an invalid or hostile
// schema with ErrBadMetadata saying what is wrong, quickly, loading
// nothing from anywhere.
func TestConfigSchemaRefused(t *testing.T) {
	ctx := context.Background()
	h, _ := newHost(t)
	deep := strings.Repeat(`{"items":`, 40) + `{}` + strings.Repeat(`}`, 40)
	// Each definition refers twice to the next: 2^30 subschemas as
	// validation would visit them, in a few hundred bytes.
	var defs []string
	for i := range 30 {
		defs = append(defs, fmt.Sprintf(`"d%d": {"allOf": [{"$ref": "#/$defs/d%d"}, {"$ref": "#/$defs/d%d"}]}`, i, i+1, i+1))
	}
	defs = append(defs, `"d30": {"type": "integer"}`)
	exponential := `{"$defs": {` + strings.Join(defs, ",") + `}, "$ref": "#/$defs/d0"}`
	for _, tc := range []struct{ name, schema, msg string }{
		{"bad type", `{"type": "integer-ish"}`, `field "config_schema" is not a schema the host accepts`},
		{"bad minimum", `{"minimum": "one"}`, `minimum`},
		{"bad regexp", `{"pattern": "(("}`, `pattern`},
		{"huge regexp", `{"pattern": "` + strings.Repeat("a", host.MaxSchemaPattern+1) + `"}`, `a "pattern" of 1025 bytes, the limit is 1024`},
		{"huge patternProperties", `{"patternProperties": {"` + strings.Repeat("b", host.MaxSchemaPattern+1) + `": {}}}`, `a "patternProperties" pattern of 1025 bytes`},
		{"unknown draft", `{"$schema": "http://json-schema.org/draft-04/schema#"}`, `the host knows draft 2020-12`},
		{"custom metaschema", `{"$schema": "https://example.com/meta"}`, `the host knows draft 2020-12`},
		{"remote ref", `{"$ref": "https://example.com/schema.json"}`, `the host loads no schema`},
		{"file ref", `{"$ref": "file:///etc/passwd"}`, `the host loads no schema`},
		{"relative ref", `{"$ref": "other.json"}`, `the host loads no schema`},
		{"missing ref", `{"$ref": "#/$defs/none"}`, `config_schema`},
		{"recursive", `{"properties": {"next": {"$ref": "#"}}}`, `the host refuses recursive schemas`},
		{"deep", deep, `nested 41 deep, the limit is 32`},
		{"exponential", exponential, `the limit is 4096`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := h.Load(ctx, schemaGuest(withSchema(tc.schema)))
			require.ErrorIs(t, err, host.ErrBadMetadata)
			assert.ErrorContains(t, err, tc.msg)
			assert.ErrorContains(t, err, `field "config_schema"`)
			assert.Less(t, time.Since(start), 10*time.Second)
			assert.NotContains(t, err.Error(), "wasmreg:///config_schema", "the host's URL for the schema stays internal")
		})
	}
}

// ExampleConfigError shows a config refused for breaking its factory's
// config_schema, every violation with its JSON pointer.
func ExampleConfigError() {
	ctx := context.Background()
	h, err := host.New(ctx)
	if err != nil {
		panic(err)
	}
	defer h.Close(ctx)
	f, err := h.Load(ctx, schemaGuest(withSchema(layersSchema)))
	if err != nil {
		panic(err)
	}
	_, err = f.Build(ctx, []byte(`{"layers": [3, 0]}`))
	fmt.Println(err)
	// Output:
	// host: invalid config: factory "schemaguest@1.0.0": the config breaks config_schema: /layers/1: minimum: got 0, want 1
}

// BenchmarkBuildConfigValidation measures what checking a config against
// its factory's config_schema adds to a build: the same schema guest and
// config, validated and not, side by side (the ratio is the cost).
func BenchmarkBuildConfigValidation(b *testing.B) {
	wasm := schemaGuest(withSchema(layersSchema))
	config := []byte(`{"layers": [784, 128, 64, 10], "activation": "relu"}`)
	for _, bc := range []struct {
		name string
		opts []host.Option
	}{
		{"validated", nil},
		{"not-validated", []host.Option{host.WithoutConfigValidation()}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			h, err := host.New(ctx, bc.opts...)
			require.NoError(b, err)
			b.Cleanup(func() { h.Close(ctx) })
			f, err := h.Load(ctx, wasm)
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				m, err := f.Build(ctx, config)
				if err != nil {
					b.Fatal(err)
				}
				m.Close(ctx)
			}
		})
	}
}

// ExampleWithoutConfigValidation builds with a config that breaks the
// factory's config_schema, on a host that leaves the checking to the
// factory.
func ExampleWithoutConfigValidation() {
	ctx := context.Background()
	h, err := host.New(ctx, host.WithoutConfigValidation())
	if err != nil {
		panic(err)
	}
	defer h.Close(ctx)
	f, err := h.Load(ctx, schemaGuest(withSchema(layersSchema)))
	if err != nil {
		panic(err)
	}
	m, err := f.Build(ctx, []byte(`{"layers": "the factory checks this itself"}`))
	fmt.Println(err)
	_ = m.Close(ctx)
	// Output:
	// <nil>
}
