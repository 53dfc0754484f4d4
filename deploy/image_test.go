package deploy_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/wasmreg/wasmreg/examples/digits"
)

// podman returns the podman command, with the Makefile's containers.conf
// (runc, lowered ulimits) unless the environment names one.
func podman(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("podman")
	if err != nil {
		t.Fatalf("podman is not installed (run `make deps`): %v", err)
	}
	cmd := exec.Command(bin, args...)
	if os.Getenv("CONTAINERS_CONF") == "" {
		conf, err := filepath.Abs(filepath.Join("podman", "containers.conf"))
		require.NoError(t, err)
		cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+conf)
	}
	return cmd
}

func podmanOutput(t *testing.T, args ...string) string {
	t.Helper()
	out, err := podman(t, args...).CombinedOutput()
	require.NoError(t, err, "podman %s: %s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// image is the image `make image` built (make test-deploy builds it first).
func image(t *testing.T) string {
	t.Helper()
	ref := os.Getenv("IMAGE")
	if ref == "" {
		ref = makefileImage(t)
	}
	if err := podman(t, "image", "exists", ref).Run(); err != nil {
		t.Fatalf("no image %s (run `make image`): %v", ref, err)
	}
	return ref
}

func waitReady(t *testing.T, base string, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/v2/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready in 90 s; logs:\n%s", base, logs())
}

type tensor struct {
	Name     string            `json:"name"`
	Datatype string            `json:"datatype"`
	Shape    []int             `json:"shape"`
	Data     []json.RawMessage `json:"data"`
}

type inferResponse struct {
	ModelName string   `json:"model_name"`
	Outputs   []tensor `json:"outputs"`
}

func infer(t *testing.T, url string, body any) inferResponse {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out inferResponse
	var raw json.RawMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&raw))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", raw)
	require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	return out
}

// classes reads the digits model's predicted classes from an infer
// response: one JSON object {"class":N,…} per row, as a BYTES output.
func classes(t *testing.T, r inferResponse) []int {
	t.Helper()
	require.Len(t, r.Outputs, 1)
	var got []int
	for _, d := range r.Outputs[0].Data {
		var s string
		require.NoError(t, json.Unmarshal(d, &s), "%s", d)
		var v struct {
			Class int `json:"class"`
		}
		require.NoError(t, json.Unmarshal([]byte(s), &v), "%s", s)
		got = append(got, v.Class)
	}
	return got
}

// digitsRequest is n held-out digits as one FP32 [n, 64] tensor, with
// their labels.
func digitsRequest(t *testing.T, n int) (any, []int) {
	t.Helper()
	X, y, err := digits.HeldOutSamples()
	require.NoError(t, err)
	var data []float32
	for _, row := range X[:n] {
		data = append(data, row...)
	}
	return map[string]any{"inputs": []map[string]any{{"name": "input", "datatype": "FP32", "shape": []int{n, len(X[0])}, "data": data}}}, y[:n]
}

// TestImage runs the image as a user would (read-only root, the cache on
// a tmpfs owned by the image's user) and has its built-in demo classify
// held-out digits; SIGTERM stops it with exit status 0.
func TestImage(t *testing.T) {
	ref := image(t)
	assert.Equal(t, "65532:65532", podmanOutput(t, "image", "inspect", "--format", "{{.Config.User}}", ref))
	name := fmt.Sprintf("wasmreg-image-test-%d", os.Getpid())
	podmanOutput(t, "run", "-d", "--name", name, "--read-only",
		"--tmpfs", "/var/cache/wasmreg:rw,mode=0700,U",
		"-p", "127.0.0.1::8080", "-p", "127.0.0.1::8081", ref)
	t.Cleanup(func() { _ = podman(t, "rm", "-f", "-t", "0", name).Run() })
	logs := func() string { out, _ := podman(t, "logs", name).CombinedOutput(); return string(out) }

	addr := podmanOutput(t, "port", name, "8080/tcp")
	_, _, err := net.SplitHostPort(addr)
	require.NoError(t, err, addr)
	base := "http://" + addr
	waitReady(t, base, logs)

	req, labels := digitsRequest(t, 50)
	resp := infer(t, base+"/v2/models/digits/infer", req)
	assert.Equal(t, "digits", resp.ModelName)
	got := classes(t, resp)
	require.Len(t, got, len(labels))
	right := 0
	for i := range got {
		if got[i] == labels[i] {
			right++
		}
	}
	assert.GreaterOrEqualf(t, right, 45, "the demo classified %d of %d held-out digits right", right, len(labels))

	podmanOutput(t, "stop", "-t", "30", name)
	assert.Equal(t, "0", podmanOutput(t, "inspect", "--format", "{{.State.ExitCode}}", name), logs())
	assert.Contains(t, logs(), "ready")
}

// TestKubePlay runs deploy/kubernetes/deployment.yaml with podman kube
// play: one replica, its container port published on loopback, and a
// ConfigMap that carries a factory (binaryData) instead of the oci://
// reference of a registry this machine has no access to. Everything else
// (read-only root, the emptyDir cache, the user, the probes' server) is the
// manifest's own.
func TestKubePlay(t *testing.T) {
	image(t)
	data, err := os.ReadFile(filepath.Join("kubernetes", "deployment.yaml"))
	require.NoError(t, err)
	var d appsv1.Deployment
	require.NoError(t, yaml.UnmarshalStrict(data, &d))
	one := int32(1)
	d.Spec.Replicas = &one
	port := freePort(t)
	c := &d.Spec.Template.Spec.Containers[0]
	for i := range c.Ports {
		if c.Ports[i].Name == "http" {
			c.Ports[i].HostIP, c.Ports[i].HostPort = "127.0.0.1", int32(port)
		}
	}
	d.Name = fmt.Sprintf("wasmreg-kube-test-%d", os.Getpid())
	out, err := yaml.Marshal(&d)
	require.NoError(t, err)
	dir := t.TempDir()
	depFile := filepath.Join(dir, "deployment.yaml")
	require.NoError(t, os.WriteFile(depFile, out, 0o600))

	echo, err := os.ReadFile(filepath.Join("..", "host", "testdata", "echo.wasm"))
	require.NoError(t, err)
	var cmName string
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			cmName = v.ConfigMap.Name
		}
	}
	require.NotEmpty(t, cmName)
	cm := corev1.ConfigMap{Data: map[string]string{"models.yaml": "models:\n  - name: echo\n    factory: /etc/wasmreg/echo.wasm\n    instances: 2\n"},
		BinaryData: map[string][]byte{"echo.wasm": echo}}
	cm.APIVersion, cm.Kind, cm.Name = "v1", "ConfigMap", cmName
	cmOut, err := yaml.Marshal(&cm)
	require.NoError(t, err)
	require.Contains(t, string(cmOut), base64.StdEncoding.EncodeToString(echo[:30]))
	cmFile := filepath.Join(dir, "configmap.yaml")
	require.NoError(t, os.WriteFile(cmFile, cmOut, 0o600))

	podmanOutput(t, "kube", "play", "--configmap", cmFile, depFile)
	t.Cleanup(func() { _ = podman(t, "kube", "down", depFile).Run() })
	logs := func() string {
		out, _ := podman(t, "logs", d.Name+"-pod-0-"+c.Name).CombinedOutput()
		return string(out)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	waitReady(t, base, logs)
	resp := infer(t, base+"/v2/models/echo/infer", map[string]any{"inputs": []map[string]any{{"name": "input", "datatype": "BYTES", "shape": []int{1}, "data": []string{"hello"}}}})
	require.Len(t, resp.Outputs, 1)
	assert.Equal(t, []json.RawMessage{json.RawMessage(`"{}"`)}, resp.Outputs[0].Data, "echo answers with its config")
	// The liveness probe's path too.
	r, err := http.Get(base + c.LivenessProbe.HTTPGet.Path)
	require.NoError(t, err)
	r.Body.Close()
	assert.Equal(t, http.StatusOK, r.StatusCode)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
