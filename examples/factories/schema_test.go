package factories_test

// Every example factory's config_schema, enforced by the host: it
// compiles at Load, and a config that breaks it is refused with every
// violation before the factory sees it.

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/examples/digits"
	"github.com/wasmreg/wasmreg/host"
)

func TestExampleSchemasEnforced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type violation struct{ config, want string }
	for _, tc := range []struct {
		name    string
		factory func(t *testing.T) *host.Factory
		valid   string
		bad     []violation
	}{
		{"c scale", func(t *testing.T) *host.Factory { return cLoad(t, cSDKMinimalWasm(t)) }, `{"factor": 2}`, []violation{
			{`{}`, `(root): missing property 'factor'`},
			{`{"factor": "2"}`, `/factor: got string, want number`},
		}},
		{"centroid", func(t *testing.T) *host.Factory { return centroidFactory(t) }, `{"centroids": [[0, 0]]}`, []violation{
			{`{"centroids": [[0, 0]], "metrik": "euclidean"}`, `(root): additional properties 'metrik' not allowed`},
			{`{"centroids": [[0, null]]}`, `/centroids/0/1: got null, want number`},
		}},
		{"rust scale", func(t *testing.T) *host.Factory { return cLoad(t, rustScaleWasm(t)) }, `{"factor": 2}`, []violation{
			{`{"factor": "2"}`, `/factor: got string, want number`},
		}},
		{"assemblyscript scale", func(t *testing.T) *host.Factory { return cLoad(t, asSDKWasm(t, "scale", "example/scale.ts")) }, `{"factor": 2}`, []violation{
			{`{}`, `(root): missing property 'factor'`},
		}},
		{"mlp", func(t *testing.T) *host.Factory {
			f, _ := mlpFactory(t, host.ArtifactMap{"digits": digits.Weights})
			return f
		}, `{"layers": [2, 3, 2], "seed": 1}`, []violation{
			{`{"layers": [2, 0]}`, `/layers/1: minimum: got 0, want 1`},
			{`{"layers": [2, 2], "activation": "gelu"}`, `/activation: value must be one of 'relu', 'tanh', 'sigmoid'`},
		}},
		{"mlpc", func(t *testing.T) *host.Factory {
			f, _ := mlpcFactory(t, mlpcSIMDWasm(t), host.ArtifactMap{"digits": digits.Weights})
			return f
		}, `{"weights": "digits"}`, []violation{
			{`{"weights": 3}`, `/weights: got number, want string`},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := tc.factory(t)
			require.NotEmpty(t, f.Info().ConfigSchema)
			m, err := f.Build(ctx, []byte(tc.valid))
			require.NoError(t, err, "the example's own config satisfies its schema")
			require.NoError(t, m.Close(ctx))
			for _, v := range tc.bad {
				_, err := f.Build(ctx, []byte(v.config))
				require.ErrorIs(t, err, host.ErrInvalidConfig, v.config)
				assert.NotErrorIs(t, err, host.ErrGuest, "the host refused it, not the factory")
				assert.ErrorContains(t, err, v.want, v.config)
			}
		})
	}
}

// cLoad loads wasm into a host of the C SDK's tests, granting nothing.
func cLoad(t *testing.T, wasm []byte) *host.Factory {
	t.Helper()
	h, _ := cSDKHost(t)
	f, err := h.Load(context.Background(), wasm)
	require.NoError(t, err)
	return f
}
