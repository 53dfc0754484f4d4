package main_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/examples/digits"
)

// demoClasses reads the classes the demo model answered, one JSON object
// {"class":N,…} per row of a BYTES output.
func demoClasses(t *testing.T, data []any) []int {
	t.Helper()
	classes := make([]int, len(data))
	for i, d := range data {
		s, ok := d.(string)
		require.True(t, ok, "output %d: %v", i, d)
		var v struct {
			Class *int `json:"class"`
		}
		require.NoError(t, json.Unmarshal([]byte(s), &v), s)
		require.NotNil(t, v.Class, s)
		classes[i] = *v.Class
	}
	return classes
}

// TestServeDemo serves the built-in demo (no FACTORY, no --models) and
// has it classify every held-out digit over REST and a sample over gRPC:
// the same accuracy `wasmreg run` reports, and the same classes over both
// protocols.
func TestServeDemo(t *testing.T) {
	t.Parallel()
	X, y, err := digits.HeldOutSamples()
	require.NoError(t, err)

	out, err := exec.Command(binary, "run").Output()
	require.NoError(t, err)
	m := regexp.MustCompile(`accuracy on all (\d+) held-out digits: (\d+)/`).FindSubmatch(out)
	require.NotNil(t, m, "%s", out)
	runRight, _ := strconv.Atoi(string(m[2]))
	require.Equal(t, strconv.Itoa(len(X)), string(m[1]))

	s := startServe(t, nil)
	s.waitReady(t)
	var data []string
	for _, row := range X {
		for _, v := range row {
			data = append(data, strconv.FormatFloat(float64(v), 'g', -1, 32))
		}
	}
	body := fmt.Sprintf(`{"inputs":[{"name":"input","datatype":"FP32","shape":[%d,%d],"data":[%s]}]}`, len(X), len(X[0]), strings.Join(data, ","))
	status, v := infer(t, s.rest, "digits", body)
	require.Equal(t, 200, status, "%v", v)
	assert.Equal(t, "digits", v["model_name"])
	outs := v["outputs"].([]any)
	require.Len(t, outs, 1)
	classes := demoClasses(t, outs[0].(map[string]any)["data"].([]any))
	require.Len(t, classes, len(y))
	right := 0
	for i := range classes {
		if classes[i] == y[i] {
			right++
		}
	}
	assert.Equal(t, runRight, right, "REST classifies as many held-out digits right as wasmreg run")

	// gRPC, with grpcurl: the first 20 digits, typed contents.
	const n = 20
	grpcBody := fmt.Sprintf(`{"model_name":"digits","inputs":[{"name":"input","datatype":"FP32","shape":[%d,%d],"contents":{"fp32_contents":[%s]}}]}`,
		n, len(X[0]), strings.Join(data[:n*len(X[0])], ","))
	gout, code := grpcurl(t, "-plaintext", "-d", grpcBody, s.grpc, "inference.GRPCInferenceService/ModelInfer")
	require.Equal(t, 0, code, gout)
	var resp struct {
		Outputs []struct {
			Contents struct {
				BytesContents []string `json:"bytesContents"`
			} `json:"contents"`
		} `json:"outputs"`
	}
	require.NoError(t, json.Unmarshal([]byte(gout), &resp), gout)
	require.Len(t, resp.Outputs, 1)
	var grpcData []any
	for _, b := range resp.Outputs[0].Contents.BytesContents {
		grpcData = append(grpcData, decodeBase64(t, b))
	}
	assert.Equal(t, classes[:n], demoClasses(t, grpcData), "gRPC and REST answer alike")
	assert.Zero(t, s.stop(t))
}

// decodeBase64 decodes a bytes field as grpcurl prints it (base64).
func decodeBase64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err, s)
	return string(b)
}
