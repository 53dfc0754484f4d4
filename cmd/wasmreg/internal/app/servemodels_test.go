package app

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseModels(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       map[string]string // model → the config its factory gets
		err        string
	}{
		{"object config", "models:\n  - {name: a, factory: a.wasm, config: {factor: 2}}\n", map[string]string{"a": `{"factor":2}`}, ""},
		{"JSON text in a string", "models:\n  - {name: a, factory: a.wasm, config: '\"v1\"'}\n", map[string]string{"a": `"v1"`}, ""},
		{"no config", "models:\n  - {name: a, factory: a.wasm}\n", map[string]string{"a": `{}`}, ""},
		{"array config", `{"models":[{"name":"a","factory":"a.wasm","config":[1, 2]}]}`, map[string]string{"a": `[1,2]`}, ""},
		{"number config", "models:\n  - {name: a, factory: a.wasm, config: 3}\n", map[string]string{"a": `3`}, ""},
		{"two models", "models:\n  - {name: a, factory: a.wasm}\n  - {name: b, factory: b, isolation: request, instances: 3, grants: [clock]}\n",
			map[string]string{"a": `{}`, "b": `{}`}, ""},
		{"empty list", "models: []\n", map[string]string{}, ""},
		{"empty file", "\n", nil, `empty; want a "models" list`},
		{"unknown field", "models:\n  - {name: a, factory: a.wasm, bogus: 1}\n", nil, `unknown field "bogus"`},
		{"duplicate key", "models:\n  - {name: a, name: b, factory: a.wasm}\n", nil, `"name"`},
		{"second name", "models:\n  - {name: a, factory: a.wasm}\n  - {name: a, factory: b.wasm}\n", nil, `models[1]: a second model named "a"`},
		{"no name", "models:\n  - {factory: a.wasm}\n", nil, "models[0]: no name"},
		{"no factory", "models:\n  - {name: a}\n", nil, `model "a": no factory`},
		{"instances", "models:\n  - {name: a, factory: a.wasm, instances: 5000}\n", nil, `model "a": instances 5000, want 1-1024`},
		{"negative instances", "models:\n  - {name: a, factory: a.wasm, instances: -1}\n", nil, `instances -1`},
		{"isolation", "models:\n  - {name: a, factory: a.wasm, isolation: vm}\n", nil, `isolation "vm"`},
		{"grant", "models:\n  - {name: a, factory: a.wasm, grants: [root]}\n", nil, `--grant root: unknown capability "root"`},
		{"sha256", "models:\n  - {name: a, factory: a.wasm, sha256: abc}\n", nil, `--sha256: "abc" is not a sha256 digest`},
		{"config string not JSON", "models:\n  - {name: a, factory: a.wasm, config: hello}\n", nil, `config: the string "hello" is not JSON text`},
		{"wrong type", "models:\n  - {name: [1], factory: a.wasm}\n", nil, "name"},
		{"models not a list", "models: {a: 1}\n", nil, "models"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := parseModels("--models m.yaml", []byte(tc.file))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.True(t, strings.HasPrefix(err.Error(), "--models m.yaml: "), err.Error())
				return
			}
			require.NoError(t, err)
			got := map[string]string{}
			for _, e := range entries {
				got[e.Name] = string(e.config)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// FuzzParseModels: any bytes are models or an error naming the file,
// never a crash, and what parses has names and factories and a JSON config.
func FuzzParseModels(f *testing.F) {
	f.Add([]byte("models:\n  - {name: a, factory: a.wasm, config: {factor: 2}, grants: [random=1]}\n"))
	f.Add([]byte(`{"models":[{"name":"a","factory":"a","config":"\"x\"","isolation":"request"}]}`))
	f.Add([]byte("models: [&a {name: x}, *a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := parseModels("F", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "F: ") {
				t.Fatalf("error without the file's name: %v", err)
			}
			return
		}
		for _, e := range entries {
			if e.Name == "" || e.Factory == "" || len(e.config) == 0 {
				t.Fatalf("accepted %+v", e)
			}
		}
	})
}
