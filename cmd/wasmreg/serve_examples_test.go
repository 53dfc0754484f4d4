package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeEveryExampleFactory starts one `wasmreg serve --models` on
// every example factory that make examples builds, each unchanged, and
// has each answer one request over REST: the model file, the grants and
// the generic or declared tensor mapping, as a user would run them.
func TestServeEveryExampleFactory(t *testing.T) {
	t.Parallel()
	abs := func(parts ...string) string {
		p, err := filepath.Abs(filepath.Join(append([]string{"..", ".."}, parts...)...))
		require.NoError(t, err)
		return p
	}
	weights := "artifact=digits=" + abs("examples", "digits", "digits.weights")
	iris, err := os.ReadFile(abs("examples", "factories", "centroid", "iris-config.json"))
	require.NoError(t, err)
	models := []struct {
		name, file, config string
		grants             []string
		input              string // the request's one input tensor
		want               string // in the answer
	}{
		{"linear", "linear.wasm", `{"weights":[[1,2],[3,-4]],"bias":[0.5,-1]}`, nil,
			`{"name":"input","datatype":"FP32","shape":[1,2],"data":[1,1]}`, `3.5,-2`},
		{"mlp", "mlp.wasm", `{"weights":"digits"}`, []string{"random", weights},
			`{"name":"input","datatype":"FP32","shape":[1,64],"data":[` + strings.Repeat("0,", 63) + `0]}`, `class`},
		{"mlpc", "mlpc.wasm", `{"weights":"digits"}`, []string{"random", weights},
			`{"name":"input","datatype":"FP32","shape":[1,64],"data":[` + strings.Repeat("0,", 63) + `0]}`, `"datatype":"INT64","name":"class"`},
		{"centroid", "centroid.wasm", string(iris), nil,
			`{"name":"input","datatype":"FP32","shape":[1,4],"data":[5.1,3.5,1.4,0.2]}`, `setosa`},
		{"echo", "echo.wasm", `[1.5,2]`, nil,
			`{"name":"input","datatype":"BYTES","shape":[1],"data":["x"]}`, `[1.5,2]`},
		{"greeter", "greeter.wasm", `{"greeting":"hi"}`, nil,
			`{"name":"input","datatype":"BYTES","shape":[1],"data":["ada"]}`, `hi`},
		{"scale", "scale.wasm", `{"factor":2}`, nil,
			`{"name":"input","datatype":"FP32","shape":[1,2],"data":[1,2.5]}`, `[2,5]`},
		{"scale-rs", "scale-rs.wasm", `{"factor":2}`, nil,
			`{"name":"input","datatype":"FP32","shape":[1,2],"data":[1,2.5]}`, `[2,5]`},
		{"scale-as", "scale-as.wasm", `{"factor":2}`, nil,
			`{"name":"input","datatype":"FP32","shape":[1,2],"data":[1,2.5]}`, `[2,5]`},
		{"abi-only", "abi-only.wasm", `{}`, nil,
			`{"name":"input","datatype":"BYTES","shape":[1],"data":["ab"]}`, `[2,195]`},
	}
	type entry struct {
		Name    string          `json:"name"`
		Factory string          `json:"factory"`
		Config  json.RawMessage `json:"config"`
		Grants  []string        `json:"grants,omitempty"`
	}
	var file struct {
		Models []entry `json:"models"`
	}
	for _, m := range models {
		file.Models = append(file.Models, entry{m.name, abs("build", "factories", m.file), json.RawMessage(m.config), m.grants})
	}
	b, err := json.Marshal(file)
	require.NoError(t, err)
	modelsFile := filepath.Join(t.TempDir(), "models.json")
	require.NoError(t, os.WriteFile(modelsFile, b, 0o600))

	s := startServe(t, nil, "--models", modelsFile, "--watch=false")
	s.waitReady(t)
	for _, m := range models {
		t.Run(m.name, func(t *testing.T) {
			resp, err := http.Get("http://" + s.rest + "/v2/models/" + m.name + "/ready")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			status, v := infer(t, s.rest, m.name, `{"inputs":[`+m.input+`]}`)
			require.Equal(t, http.StatusOK, status, "%v", v)
			out, err := json.Marshal(v["outputs"])
			require.NoError(t, err)
			assert.Contains(t, string(out), m.want, fmt.Sprintf("model %s", m.name))
		})
	}
	assert.Zero(t, s.stop(t))
}
