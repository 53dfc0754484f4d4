package deploy_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/wasmreg/wasmreg/serve"
)

// KServe's Go types are not served here: these carry the same field names
// (serving.kserve.io v1alpha1 and v1beta1), so that a strict decode catches
// a misspelled or unknown field as it does for Kubernetes' own types.
type servingRuntime struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SupportedModelFormats []struct {
			Name       string `json:"name"`
			Version    string `json:"version"`
			AutoSelect bool   `json:"autoSelect"`
		} `json:"supportedModelFormats"`
		ProtocolVersions []string           `json:"protocolVersions"`
		MultiModel       bool               `json:"multiModel"`
		Containers       []corev1.Container `json:"containers"`
	} `json:"spec"`
}

type clusterStorageContainer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Container           corev1.Container `json:"container"`
		SupportedURIFormats []struct {
			Prefix string `json:"prefix,omitempty"`
			Regex  string `json:"regex,omitempty"`
		} `json:"supportedUriFormats"`
	} `json:"spec"`
}

type inferenceService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Predictor struct {
			MinReplicas *int32 `json:"minReplicas"`
			MaxReplicas int32  `json:"maxReplicas"`
			Model       struct {
				ModelFormat struct {
					Name    string `json:"name"`
					Version string `json:"version"`
				} `json:"modelFormat"`
				Runtime         string `json:"runtime"`
				ProtocolVersion string `json:"protocolVersion"`
				StorageURI      string `json:"storageUri"`
			} `json:"model"`
		} `json:"predictor"`
	} `json:"spec"`
}

// newObject returns the Go type a manifest's kind decodes into.
func newObject(apiVersion, kind string) (any, bool) {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, true
	case "v1 Service":
		return &corev1.Service{}, true
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, true
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, true
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "serving.kserve.io/v1alpha1 ServingRuntime":
		return &servingRuntime{}, true
	case "serving.kserve.io/v1alpha1 ClusterStorageContainer":
		return &clusterStorageContainer{}, true
	case "serving.kserve.io/v1beta1 InferenceService":
		return &inferenceService{}, true
	}
	return nil, false
}

// decode decodes one manifest strictly: unknown, misspelled or duplicated
// fields fail, and so do kinds this test does not know.
func decode(data []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(data, &tm); err != nil {
		return nil, err
	}
	obj, ok := newObject(tm.APIVersion, tm.Kind)
	if !ok {
		return nil, &unknownKindError{tm.APIVersion, tm.Kind}
	}
	return obj, yaml.UnmarshalStrict(data, obj)
}

type unknownKindError struct{ apiVersion, kind string }

func (e *unknownKindError) Error() string {
	return "unknown kind " + e.kind + " of " + e.apiVersion
}

type manifests struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	configMap  *corev1.ConfigMap
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	pdb        *policyv1.PodDisruptionBudget
	runtime    *servingRuntime
	storage    *clusterStorageContainer
	isvc       *inferenceService
}

func load(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("*", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var m manifests
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.Falsef(t, bytes.Contains(data, []byte("\n---")), "%s: one object per file", f)
		obj, err := decode(data)
		require.NoErrorf(t, err, "%s", f)
		switch o := obj.(type) {
		case *appsv1.Deployment:
			m.deployment = o
		case *corev1.Service:
			m.service = o
		case *corev1.ConfigMap:
			m.configMap = o
		case *autoscalingv2.HorizontalPodAutoscaler:
			m.hpa = o
		case *policyv1.PodDisruptionBudget:
			m.pdb = o
		case *servingRuntime:
			m.runtime = o
		case *clusterStorageContainer:
			m.storage = o
		case *inferenceService:
			m.isvc = o
		}
	}
	for name, missing := range map[string]bool{
		"Deployment": m.deployment == nil, "Service": m.service == nil, "ConfigMap": m.configMap == nil,
		"HorizontalPodAutoscaler": m.hpa == nil, "PodDisruptionBudget": m.pdb == nil,
		"ServingRuntime": m.runtime == nil, "ClusterStorageContainer": m.storage == nil, "InferenceService": m.isvc == nil,
	} {
		require.Falsef(t, missing, "no %s manifest", name)
	}
	return m
}

// TestStrictDecodeCatchesMistakes shows that the decoding the other tests
// rely on fails on the mistakes it is there to catch.
func TestStrictDecodeCatchesMistakes(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("kubernetes", "deployment.yaml"))
	require.NoError(t, err)
	rt, err := os.ReadFile(filepath.Join("kserve", "servingruntime.yaml"))
	require.NoError(t, err)
	for name, data := range map[string][]byte{
		"misspelled field":     bytes.Replace(good, []byte("readinessProbe:"), []byte("readinesProbe:"), 1),
		"unknown field":        bytes.Replace(good, []byte("  replicas: 3"), []byte("  replicas: 3\n  replica: 3"), 1),
		"wrong type":           bytes.Replace(good, []byte("replicas: 3"), []byte("replicas: three"), 1),
		"duplicate field":      bytes.Replace(good, []byte("  replicas: 3"), []byte("  replicas: 3\n  replicas: 4"), 1),
		"kserve misspelling":   bytes.Replace(rt, []byte("protocolVersions:"), []byte("protocolVersion:"), 1),
		"unknown kind":         bytes.Replace(good, []byte("kind: Deployment"), []byte("kind: Deploymnet"), 1),
		"unknown api version":  bytes.Replace(good, []byte("apps/v1"), []byte("apps/v1beta1"), 1),
		"kserve unknown field": bytes.Replace(rt, []byte("multiModel: false"), []byte("multiModel: false\n  multiModels: false"), 1),
	} {
		t.Run(name, func(t *testing.T) {
			require.NotEqual(t, good, data, "the mutation must change the manifest")
			_, err := decode(data)
			assert.Error(t, err)
		})
	}
}

// flagValue returns the value of --name=VALUE in args.
func flagValue(t *testing.T, args []string, name string) string {
	t.Helper()
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	t.Fatalf("no --%s=VALUE in %q", name, args)
	return ""
}

func port(t *testing.T, addr string) int32 {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	require.Positivef(t, i, "address %q", addr)
	p, err := strconv.ParseInt(addr[i+1:], 10, 32)
	require.NoErrorf(t, err, "address %q", addr)
	return int32(p)
}

// containerfile reads what ../Containerfile exposes and sets.
func containerfile(t *testing.T) (exposed []int32, env map[string]string, user string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "Containerfile"))
	require.NoError(t, err)
	env = map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "EXPOSE":
			for _, f := range fields[1:] {
				p, err := strconv.ParseInt(f, 10, 32)
				require.NoError(t, err, line)
				exposed = append(exposed, int32(p))
			}
		case "ENV":
			k, v, ok := strings.Cut(fields[1], "=")
			require.True(t, ok, line)
			env[k] = v
		case "USER":
			user = fields[1]
		}
	}
	return exposed, env, user
}

// makefileImage is the reference `make image` tags.
func makefileImage(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "Makefile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^IMAGE\s*\?=\s*(\S+)\s*$`).FindSubmatch(data)
	require.NotNil(t, m, "the Makefile sets no IMAGE ?= …")
	return string(m[1])
}

// probePaths checks that each path answers on the real server's handler
// (not 404), so that a probe cannot point at a route that does not exist.
func probePaths(t *testing.T, paths ...string) {
	t.Helper()
	srv, err := serve.New(serve.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	for _, p := range paths {
		resp, err := http.Get(ts.URL + p)
		require.NoError(t, err)
		resp.Body.Close()
		assert.NotEqualf(t, http.StatusNotFound, resp.StatusCode, "probe path %s", p)
	}
}

func TestKubernetesManifests(t *testing.T) {
	m := load(t)
	d := m.deployment
	pod := d.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	exposed, env, user := containerfile(t)

	t.Run("image", func(t *testing.T) {
		assert.Equal(t, makefileImage(t), c.Image)
		assert.Equal(t, makefileImage(t), m.runtime.Spec.Containers[0].Image)
		assert.Equal(t, makefileImage(t), m.storage.Spec.Container.Image)
	})
	t.Run("ports", func(t *testing.T) {
		rest, grpc := port(t, flagValue(t, c.Args, "rest-addr")), port(t, flagValue(t, c.Args, "grpc-addr"))
		assert.Equal(t, []int32{rest, grpc}, exposed, "the Containerfile exposes the ports the server listens on")
		byName := map[string]int32{}
		for _, p := range c.Ports {
			byName[p.Name] = p.ContainerPort
		}
		assert.Equal(t, map[string]int32{"http": rest, "grpc": grpc}, byName)
		for _, sp := range m.service.Spec.Ports {
			_, ok := byName[sp.TargetPort.String()]
			assert.Truef(t, ok, "service port %s targets %s, which the container does not name", sp.Name, sp.TargetPort.String())
		}
		for name, probe := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
			require.NotNilf(t, probe, "%s probe", name)
			require.NotNilf(t, probe.HTTPGet, "%s probe", name)
			assert.Equalf(t, "http", probe.HTTPGet.Port.String(), "%s probe port", name)
		}
	})
	t.Run("probe paths exist in the server", func(t *testing.T) {
		assert.Equal(t, "/v2/health/ready", c.ReadinessProbe.HTTPGet.Path)
		assert.Equal(t, "/v2/health/live", c.LivenessProbe.HTTPGet.Path)
		probePaths(t, c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path, c.StartupProbe.HTTPGet.Path)
	})
	t.Run("drain fits in the grace period", func(t *testing.T) {
		drain, err := time.ParseDuration(flagValue(t, c.Args, "shutdown-timeout"))
		require.NoError(t, err)
		require.NotNil(t, c.Lifecycle)
		require.NotNil(t, c.Lifecycle.PreStop)
		require.NotNil(t, c.Lifecycle.PreStop.Sleep, "the image has no shell: the preStop hook must be a sleep action")
		pause := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		require.NotNil(t, pod.TerminationGracePeriodSeconds)
		grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
		// Closing the models after the drain takes a moment too.
		assert.Lessf(t, pause+drain+5*time.Second, grace+time.Nanosecond, "preStop %v + drain %v + 5s must fit in the grace period %v", pause, drain, grace)
	})
	t.Run("security", func(t *testing.T) {
		require.NotNil(t, pod.SecurityContext)
		assert.True(t, *pod.SecurityContext.RunAsNonRoot)
		assert.Equal(t, user, strconv.Itoa(int(*pod.SecurityContext.RunAsUser))+":"+strconv.Itoa(int(*pod.SecurityContext.RunAsGroup)))
		require.NotNil(t, c.SecurityContext)
		assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
		assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
		assert.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
		assert.False(t, *pod.AutomountServiceAccountToken)
	})
	t.Run("volumes", func(t *testing.T) {
		mounts := map[string]string{}
		for _, vm := range c.VolumeMounts {
			mounts[vm.Name] = vm.MountPath
		}
		vols := map[string]corev1.Volume{}
		for _, v := range pod.Volumes {
			vols[v.Name] = v
		}
		// The cache (compilation cache and OCI store) is where the image
		// says, on an emptyDir, since the root filesystem is read-only.
		cacheDir := env["WASMREG_CACHE_DIR"]
		require.NotEmpty(t, cacheDir, "the Containerfile sets WASMREG_CACHE_DIR")
		var cacheVol string
		for name, path := range mounts {
			if path == cacheDir {
				cacheVol = name
			}
		}
		require.NotEmptyf(t, cacheVol, "nothing is mounted at %s", cacheDir)
		require.NotNil(t, vols[cacheVol].EmptyDir)
		// The models file is in the mounted ConfigMap.
		models := flagValue(t, c.Args, "models")
		dir, file := filepath.Split(models)
		var cmVol string
		for name, path := range mounts {
			if filepath.Clean(path) == filepath.Clean(dir) {
				cmVol = name
			}
		}
		require.NotEmptyf(t, cmVol, "nothing is mounted at %s", dir)
		require.NotNil(t, vols[cmVol].ConfigMap)
		assert.Equal(t, m.configMap.Name, vols[cmVol].ConfigMap.Name)
		assert.Contains(t, m.configMap.Data, file)
		assert.Contains(t, m.configMap.Data[file], "@sha256:", "factories are pulled by digest")
	})
	t.Run("resources", func(t *testing.T) {
		assert.False(t, c.Resources.Requests.Cpu().IsZero())
		assert.False(t, c.Resources.Requests.Memory().IsZero())
		assert.False(t, c.Resources.Limits.Memory().IsZero())
		assert.Positive(t, c.Resources.Limits.Memory().Cmp(*c.Resources.Requests.Memory()))
	})
	t.Run("selectors", func(t *testing.T) {
		podLabels := labels.Set(d.Spec.Template.Labels)
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		require.NoError(t, err)
		assert.True(t, sel.Matches(podLabels))
		assert.True(t, labels.SelectorFromSet(m.service.Spec.Selector).Matches(podLabels))
		pdbSel, err := metav1.LabelSelectorAsSelector(m.pdb.Spec.Selector)
		require.NoError(t, err)
		assert.True(t, pdbSel.Matches(podLabels))
		require.NotNil(t, d.Spec.Replicas)
		assert.Less(t, m.pdb.Spec.MinAvailable.IntValue(), int(*d.Spec.Replicas), "the budget must allow one disruption")
		assert.Equal(t, "Deployment", m.hpa.Spec.ScaleTargetRef.Kind)
		assert.Equal(t, d.Name, m.hpa.Spec.ScaleTargetRef.Name)
		require.NotNil(t, m.hpa.Spec.MinReplicas)
		assert.Equal(t, *d.Spec.Replicas, *m.hpa.Spec.MinReplicas)
	})
}

func TestKServeManifests(t *testing.T) {
	m := load(t)
	rt, isvc, sc := m.runtime, m.isvc, m.storage
	require.Len(t, rt.Spec.Containers, 1)
	c := rt.Spec.Containers[0]
	assert.Equal(t, "kserve-container", c.Name)
	assert.Contains(t, rt.Spec.ProtocolVersions, "v2")
	byName := map[string]int32{}
	for _, p := range c.Ports {
		byName[p.Name] = p.ContainerPort
	}
	assert.Equal(t, map[string]int32{"http1": port(t, flagValue(t, c.Args, "rest-addr")), "h2c": port(t, flagValue(t, c.Args, "grpc-addr"))}, byName)
	assert.Equal(t, map[string]int32{"http1": 8080, "h2c": 8081}, byName, "KServe's ports")

	require.NotEmpty(t, rt.Spec.SupportedModelFormats)
	format := rt.Spec.SupportedModelFormats[0]
	assert.Equal(t, format.Name, isvc.Spec.Predictor.Model.ModelFormat.Name)
	assert.Equal(t, format.Version, isvc.Spec.Predictor.Model.ModelFormat.Version)
	assert.Equal(t, rt.Name, isvc.Spec.Predictor.Model.Runtime)
	assert.Equal(t, "v2", isvc.Spec.Predictor.Model.ProtocolVersion)

	// The storage initializer takes the InferenceService's URI, and
	// writes the file the runtime serves.
	uri := isvc.Spec.Predictor.Model.StorageURI
	require.True(t, strings.HasPrefix(uri, "oci://"), uri)
	require.Len(t, sc.Spec.SupportedURIFormats, 1)
	assert.Regexp(t, sc.Spec.SupportedURIFormats[0].Regex, uri)
	assert.NotRegexp(t, sc.Spec.SupportedURIFormats[0].Regex, strings.Split(uri, "@")[0]+":latest", "only digest references")
	assert.Equal(t, []string{"/usr/local/bin/wasmreg", "pull", "--kserve-storage"}, sc.Spec.Container.Command)
	assert.Equal(t, "/mnt/models/factory.wasm", c.Args[0])
}
