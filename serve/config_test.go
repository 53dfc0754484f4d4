package serve_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/serve"
)

// TestRepositoryLoadInvalidConfig loads a model through the repository
// API with a config that breaks its factory's config_schema: 400, and the
// body lists the violation; the host refused it before any build.
func TestRepositoryLoadInvalidConfig(t *testing.T) {
	ctx := context.Background()
	h, err := host.New(ctx, host.WithGrants(host.CapClock, host.CapRandom, host.CapArtifact), host.WithCallTimeout(2*time.Second))
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(ctx) })
	guest := loadFactory(t, h, "guest.wasm") // config_schema {"type": ["object", "string"]}
	srv, err := serve.New(serve.WithLogger(quiet()), serve.WithRepository(token, func(_ context.Context, name string) (*host.Factory, error) {
		if name == "guest2" {
			return guest, nil
		}
		return nil, fmt.Errorf("no factory %q", name)
	}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	fx := &fixture{srv: srv, ts: httptest.NewServer(srv.Handler())}
	t.Cleanup(fx.ts.Close)
	auth := []string{"Authorization", "Bearer " + token}

	for _, tc := range []struct{ name, config, want string }{
		{"breaks the schema", `[1]`, "(root): got array, want string or object"},
		{"not JSON", `{"a":`, "(root): is not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"parameters":{"config":%q}}`, tc.config)
			status, b, _ := fx.do(t, "POST", "/v2/repository/models/guest2/load", body, auth...)
			assert.Equal(t, 400, status, "%v", b)
			assert.Contains(t, b["error"], "host: invalid config: ")
			assert.Contains(t, b["error"], tc.want)
			status, _, _ = fx.do(t, "GET", "/v2/models/guest2", "")
			assert.Equal(t, 404, status, "nothing was loaded")
		})
	}
	status, b, _ := fx.do(t, "POST", "/v2/repository/models/guest2/load", `{"parameters":{"config":"{}"}}`, auth...)
	assert.Equal(t, 200, status, "a config that satisfies the schema loads: %v", b)
}
