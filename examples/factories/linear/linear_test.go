package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	wasmreg "github.com/wasmreg/wasmreg/guest-sdk/go"
)

// These tests run the factory's logic natively; go_sdk_test.go in the
// parent directory runs the built module under the real host.

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, config, want string
	}{
		{"not an object", `[1, 2]`, `config: want a JSON object such as {"weights": [[...], ...]}: json: cannot unmarshal array`},
		{"not JSON", `{"weights": `, `config: want a JSON object`},
		{"unknown field", `{"wieghts": [1]}`, `config field "wieghts" is unknown (known: bias, labels, link, weights)`},
		{"no weights", `{}`, `config field "weights" is required`},
		{"null weights", `{"weights": null}`, `config field "weights" is required`},
		{"weights not an array", `{"weights": 3}`, "config field \"weights\": is `3`; want an array of rows of numbers, or one row"},
		{"empty weights", `{"weights": []}`, `config field "weights": is empty`},
		{"ragged rows", `{"weights": [[1,2,3,4],[1,2,3,4],[1,2,3]]}`, `config field "weights": row 2 has 3 values, want 4 like row 0`},
		{"empty row", `{"weights": [[]]}`, `config field "weights": row 0 is empty`},
		{"mixed rows", `{"weights": [[1,2], 3]}`, "config field \"weights\": row 1 is `3`, not an array of numbers"},
		{"string value", `{"weights": [[1,2],[3,"x"]]}`, "config field \"weights\": row 1: value 1: `\"x\"` is not a number"},
		{"null value", `{"weights": [1, null]}`, "config field \"weights\": value 1: `null` is not a number"},
		{"huge value", `{"weights": [1e400]}`, "config field \"weights\": value 0: `1e400` is out of the range of float64"},
		{"bias length", `{"weights": [[1],[2],[3]], "bias": [1, 2]}`, `config field "bias": has 2 values, want 3 (one per row of "weights")`},
		{"bias string", `{"weights": [1], "bias": "0"}`, "config field \"bias\": `\"0\"` is not a number; want a number or an array of 1 numbers"},
		{"bias value", `{"weights": [[1],[2]], "bias": [1, true]}`, "config field \"bias\": value 1: `true` is not a number"},
		{"unknown link", `{"weights": [1], "link": "relu"}`, `config field "link": "relu" is not one of "identity", "logistic", "softmax"`},
		{"link not a string", `{"weights": [1], "link": 1}`, `config field "link": want a string`},
		{"softmax of one", `{"weights": [1, 2], "link": "softmax"}`, `config field "link": "softmax" needs at least 2 rows`},
		{"labels without classes", `{"weights": [1], "labels": ["a", "b"]}`, `config field "labels": needs "link" "logistic" or "softmax", not "identity"`},
		{"labels count", `{"weights": [[1],[2],[3]], "link": "softmax", "labels": ["a", "b"]}`, `config field "labels": has 2 labels, want 3 (one per class)`},
		{"binary labels count", `{"weights": [1], "link": "logistic", "labels": ["yes"]}`, `config field "labels": has 1 label, want 2 (for class 0 and class 1 of the single output)`},
		{"label not a string", `{"weights": [1], "link": "logistic", "labels": ["a", 2]}`, "config field \"labels\": label 1 is `2`, not a string"},
		{"labels not an array", `{"weights": [1], "link": "logistic", "labels": "ab"}`, `config field "labels": want an array of strings`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig([]byte(tc.config))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestPredict(t *testing.T) {
	tests := []struct {
		name, config, request, want string
	}{
		{"identity, one output", `{"weights": [2, -1], "bias": 0.5}`, `[3, 1]`, `{"outputs":[5.5]}`},
		{"identity, two outputs", `{"weights": [[1, 0], [0, 1]], "bias": [10, 20]}`, `[3, 4]`, `{"outputs":[13,24]}`},
		{"bias broadcast", `{"weights": [[1], [2]], "bias": 1}`, `[1]`, `{"outputs":[2,3]}`},
		{"logistic, one output", `{"weights": [1], "link": "logistic", "labels": ["no", "yes"]}`, `[0]`, `{"outputs":[0.5],"class":1,"label":"yes"}`},
		{"logistic, negative", `{"weights": [1], "link": "logistic"}`, `[-800]`, `{"outputs":[0],"class":0}`},
		{"logistic, several outputs", `{"weights": [[1], [-1]], "link": "logistic"}`, `[0]`, `{"outputs":[0.5,0.5],"class":0}`},
		{"softmax", `{"weights": [[1], [0]], "link": "softmax", "labels": ["a", "b"]}`, `[1000]`, `{"outputs":[1,0],"class":0,"label":"a"}`},
		{"batch", `{"weights": [1, 1]}`, `{"inputs": [[1, 2], [3, 4]]}`, `[{"outputs":[3]},{"outputs":[7]}]`},
		{"empty batch", `{"weights": [1, 1]}`, `{"inputs": []}`, `[]`},
		{"whitespace", `{"weights": [1]}`, " [2]\n", `{"outputs":[2]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parseConfig([]byte(tc.config))
			require.NoError(t, err)
			out, err := m.Predict([]byte(tc.request))
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(out))
		})
	}
}

func TestRequestErrors(t *testing.T) {
	m, err := parseConfig([]byte(`{"weights": [[1, 2], [3, 4]], "link": "softmax"}`))
	require.NoError(t, err)
	big, err := parseConfig([]byte(`{"weights": [1e308, 1e308]}`))
	require.NoError(t, err)
	tests := []struct {
		name    string
		m       *model
		request string
		want    string
	}{
		{"empty", m, ``, `request: empty; want a JSON array of 2 numbers, or {"inputs": [[...], ...]}`},
		{"too short", m, `[1]`, `request: has 1 value, want 2 (one per feature)`},
		{"not numbers", m, `[1, "a"]`, "request: value 1: `\"a\"` is not a number"},
		{"not JSON", m, `hello`, "request: is `hello`, not an array of numbers"},
		{"unknown field", m, `{"input": [1, 2]}`, `request field "input" is unknown (known: inputs)`},
		{"no inputs", m, `{}`, `request field "inputs" is required`},
		{"inputs not rows", m, `{"inputs": [1, 2]}`, "request field \"inputs\": row 0: is `1`, not an array of numbers"},
		{"short row", m, `{"inputs": [[1, 2], [1]]}`, `request field "inputs": row 1 has 1 value, want 2 (one per feature)`},
		{"overflow", big, `[10, 10]`, "request: output 0 overflows float64 (W x + b is +Inf)"},
		{"overflow in batch", big, `{"inputs": [[0, 0], [10, 10]]}`, `request field "inputs": row 1: output 0 overflows float64`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.m.Predict([]byte(tc.request))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestThroughSDK builds and predicts through the SDK's native entry
// points, as the exports do.
func TestThroughSDK(t *testing.T) {
	md, err := wasmreg.Metadata()
	require.NoError(t, err)
	var info struct {
		Name         string          `json:"name"`
		ConfigSchema json.RawMessage `json:"config_schema"`
	}
	require.NoError(t, json.Unmarshal(md, &info))
	assert.Equal(t, "linear", info.Name)
	assert.Contains(t, string(info.ConfigSchema), `"required":["weights"]`)

	err = wasmreg.CallBuild([]byte(`{"weights": [[1, 2], [1]]}`))
	require.Error(t, err)
	assert.Equal(t, int32(1), wasmreg.Code(err))
	require.NoError(t, wasmreg.CallBuild([]byte(`{"weights": [1, 2], "bias": -1}`)))
	out, err := wasmreg.CallPredict([]byte(`[1, 1]`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"outputs":[2]}`, string(out))
}

// FuzzLinear checks that no config or request makes the factory panic,
// and that every response is JSON.
func FuzzLinear(f *testing.F) {
	f.Add(`{"weights": [[1, 2], [3, 4]], "bias": [1, 2], "link": "softmax", "labels": ["a", "b"]}`, `[1, 2]`)
	f.Add(`{"weights": [1, 2], "bias": 1, "link": "logistic"}`, `{"inputs": [[1, 2], [3, 4]]}`)
	f.Add(`{"weights": [1e308, 1e308]}`, `[1e308, -1e308]`)
	f.Add(`{"weights": [[]]}`, `[]`)
	f.Fuzz(func(t *testing.T, config, request string) {
		m, err := parseConfig([]byte(config))
		if err != nil {
			return
		}
		out, err := m.Predict([]byte(request))
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON response %q", out)
		}
	})
}
