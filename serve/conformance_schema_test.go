package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The OIP REST API's OpenAPI file, the repository's copy (README beside it).
var oipSpecFile = filepath.Join("testdata", "oip", "open_inference_rest.yaml")

// oipTextSchemas are the bodies inference_rest.md defines that the OpenAPI
// file has no schema for, written from the text: the health and model-ready
// responses (the server-ready one is {"ready": $bool}; the text writes
// "live" once by mistake), and an error body as the text requires it ("The
// HTTP body must contain" {"error": $string}, a descriptive message), which
// the file's inference_error_response leaves optional.
var oipTextSchemas = map[string]string{
	"live_server_response":  `{"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}}`,
	"ready_server_response": `{"type": "object", "required": ["ready"], "properties": {"ready": {"type": "boolean"}}}`,
	"ready_model_response": `{"type": "object", "required": ["name", "ready"],
		"properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}}}`,
	"error_response_text": `{"type": "object", "required": ["error"], "properties": {"error": {"type": "string", "minLength": 1}}}`,
}

// oipSchemas validates JSON bodies against the named schemas of the OIP
// OpenAPI file's components/schemas (and oipTextSchemas). It is safe for
// concurrent use once loaded: validation only reads the schemas.
type oipSchemas struct {
	schemas openapi3.Schemas
}

var (
	oipOnce   sync.Once
	oipLoaded *oipSchemas
	oipErr    error
)

// loadOIPSchemas loads and checks the OpenAPI file once per test binary.
func loadOIPSchemas(t testing.TB) *oipSchemas {
	t.Helper()
	oipOnce.Do(func() { oipLoaded, oipErr = readOIPSchemas(oipSpecFile) })
	require.NoError(t, oipErr)
	return oipLoaded
}

func readOIPSchemas(path string) (*oipSchemas, error) {
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("oip spec %s: %w", path, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("oip spec %s: not valid OpenAPI: %w", path, err)
	}
	if doc.Components == nil || len(doc.Components.Schemas) == 0 {
		return nil, fmt.Errorf("oip spec %s: no components/schemas", path)
	}
	schemas := openapi3.Schemas{}
	for name, ref := range doc.Components.Schemas {
		schemas[name] = ref
	}
	for name, text := range oipTextSchemas {
		if _, dup := schemas[name]; dup {
			return nil, fmt.Errorf("oip spec %s: already has a schema %q", path, name)
		}
		var s openapi3.Schema
		if err := json.Unmarshal([]byte(text), &s); err != nil {
			return nil, fmt.Errorf("schema %q: %w", name, err)
		}
		if err := s.Validate(context.Background()); err != nil {
			return nil, fmt.Errorf("schema %q: %w", name, err)
		}
		schemas[name] = openapi3.NewSchemaRef("", &s)
	}
	return &oipSchemas{schemas: schemas}, nil
}

var errSchema = errors.New("oip schema violation")

// validate checks that body is one JSON value valid against schema name.
func (o *oipSchemas) validate(name string, body []byte) error {
	ref, ok := o.schemas[name]
	if !ok || ref.Value == nil {
		return fmt.Errorf("%w: no schema %q in %s", errSchema, name, oipSpecFile)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("%w: %s: not JSON: %v", errSchema, name, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: %s: data after the JSON value", errSchema, name)
	}
	if err := ref.Value.VisitJSON(v, openapi3.MultiErrors(), openapi3.DisableSchemaErrorDetails()); err != nil {
		return fmt.Errorf("%w: %s: %v", errSchema, name, err)
	}
	return nil
}

// oipEndpoint is what the protocol promises for one endpoint: the schema of
// the request body ("" for none: the body must be empty), of a 2xx body, and
// of an error body (every one of them must hold).
type oipEndpoint struct {
	name     string
	request  string
	success  string
	failures []string
}

var (
	oipModelPath = `/v2/models/[^/]+(?:/versions/[^/]+)?`
	oipRoutes    = []struct {
		method string
		path   *regexp.Regexp
		oipEndpoint
	}{
		{"GET", regexp.MustCompile(`^(?:/v2/health/live|/livez)$`), oipEndpoint{"server live", "", "live_server_response", []string{"live_server_response"}}},
		// Not ready is 503 with {"ready": false}.
		{"GET", regexp.MustCompile(`^(?:/v2/health/ready|/readyz)$`), oipEndpoint{"server ready", "", "ready_server_response", []string{"ready_server_response"}}},
		{"GET", regexp.MustCompile(`^/v2/?$`), oipEndpoint{"server metadata", "", "metadata_server_response",
			[]string{"metadata_server_error_response", "error_response_text"}}},
		{"GET", regexp.MustCompile(`^` + oipModelPath + `$`), oipEndpoint{"model metadata", "", "metadata_model_response",
			[]string{"metadata_model_error_response", "error_response_text"}}},
		// The protocol names no error body for model ready; it is a model
		// endpoint, so its errors are the model metadata's.
		{"GET", regexp.MustCompile(`^` + oipModelPath + `/ready$`), oipEndpoint{"model ready", "", "ready_model_response",
			[]string{"metadata_model_error_response", "error_response_text"}}},
		{"POST", regexp.MustCompile(`^` + oipModelPath + `/infer$`), oipEndpoint{"inference", "inference_request", "inference_response",
			[]string{"inference_error_response", "error_response_text"}}},
	}
)

// oipEndpointOf returns the endpoint of a request, if it is an OIP one.
func oipEndpointOf(method, path string) (oipEndpoint, bool) {
	for _, r := range oipRoutes {
		if r.method == method && r.path.MatchString(path) {
			return r.oipEndpoint, true
		}
	}
	return oipEndpoint{}, false
}

type invalidRequestKey struct{}

// withInvalidRequest marks a request whose body a test makes deliberately
// non-conformant (to see the server's error): the transport then checks
// that the schema does reject it, and still checks the response.
func withInvalidRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, invalidRequestKey{}, true)
}

// oipTransport is an http.RoundTripper that validates every request body
// it sends and every response body it receives against the schema its OIP
// endpoint promises, and reports each violation with fail (t.Errorf in
// tests). A request to a path that is not an OIP endpoint is a violation
// too. It is safe for concurrent use if fail is.
type oipTransport struct {
	base    http.RoundTripper
	schemas *oipSchemas
	fail    func(format string, args ...any)
	checked atomic.Int64 // bodies validated, so that tests can see the check ran
}

func newOIPTransport(t testing.TB, base http.RoundTripper) *oipTransport {
	return &oipTransport{base: base, schemas: loadOIPSchemas(t), fail: t.Errorf}
}

func (c *oipTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	what := req.Method + " " + req.URL.Path
	ep, ok := oipEndpointOf(req.Method, req.URL.Path)
	if !ok {
		c.fail("oip conformance: %s is not an endpoint of the protocol", what)
		return c.base.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("oip conformance: %s: reading the request body: %w", what, err)
		}
	}
	invalid := req.Context().Value(invalidRequestKey{}) != nil
	switch err := c.checkRequest(ep, body); {
	case invalid && err == nil:
		c.fail("oip conformance: %s: the request is meant to be invalid, but the schema %s accepts it: %s", what, ep.request, clipBody(body))
	case !invalid && err != nil:
		c.fail("oip conformance: %s: request %s: %v", what, clipBody(body), err)
	}
	out := req.Clone(req.Context())
	out.Body, out.ContentLength = http.NoBody, 0 // not an unknown length, which would send a GET chunked
	if len(body) > 0 {
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}
	resp, err := c.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	got, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("oip conformance: %s: reading the response body: %w", what, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(got))
	schemas := []string{ep.success}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		schemas = ep.failures
	}
	if ct, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || ct != "application/json" {
		c.fail("oip conformance: %s: status %d: Content-Type %q, want application/json", what, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, s := range schemas {
		if err := c.schemas.validate(s, got); err != nil {
			c.fail("oip conformance: %s: status %d: response %s: %v", what, resp.StatusCode, clipBody(got), err)
		}
		c.checked.Add(1)
	}
	return resp, nil
}

func (c *oipTransport) checkRequest(ep oipEndpoint, body []byte) error {
	if ep.request == "" {
		if len(body) != 0 {
			return fmt.Errorf("%w: %s takes no body, got %d bytes", errSchema, ep.name, len(body))
		}
		return nil
	}
	c.checked.Add(1)
	return c.schemas.validate(ep.request, body)
}

func clipBody(b []byte) string {
	if len(b) > 300 {
		return fmt.Sprintf("%s… (%d bytes)", b[:300], len(b))
	}
	return string(b)
}

// TestOIPSchemas checks the validator itself: the protocol's own examples
// pass, and bodies that break the protocol fail, naming what is wrong, so
// that the conformance tests can fail.
func TestOIPSchemas(t *testing.T) {
	o := loadOIPSchemas(t)
	tests := []struct {
		name, schema, body string
		wantErr            string // "" if valid
	}{
		{"request example of the text", "inference_request",
			`{"id":"42","inputs":[{"name":"input0","shape":[2,2],"datatype":"UINT32","data":[1,2,3,4]},
			{"name":"input1","shape":[3],"datatype":"BOOL","data":[true]}],"outputs":[{"name":"output0"}]}`, ""},
		{"nested data and parameters", "inference_request",
			`{"parameters":{"a":1},"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","parameters":{"b":"c"},"data":[[1,2],[3,4]]}]}`, ""},
		{"request without inputs", "inference_request", `{"id":"1"}`, `property "inputs" is missing`},
		{"input without name", "inference_request", `{"inputs":[{"shape":[1],"datatype":"FP32","data":[1]}]}`, `"/inputs/0/name": property "name" is missing`},
		{"input without data", "inference_request", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]}`, `property "data" is missing`},
		{"shape not integers", "inference_request", `{"inputs":[{"name":"x","shape":[1.5],"datatype":"FP32","data":[1]}]}`, `"/inputs/0/shape/0"`},
		{"data holding an object", "inference_request", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[{"a":1}]}]}`, `"/inputs/0/data/0"`},
		{"id a number", "inference_request", `{"id":42,"inputs":[]}`, `"/id"`},
		{"requested output without name", "inference_request", `{"inputs":[],"outputs":[{}]}`, `"/outputs/0/name"`},
		{"malformed JSON", "inference_request", `{"inputs":`, "not JSON"},
		{"trailing data", "inference_request", `{"inputs":[]} {}`, "after the JSON value"},
		{"response", "inference_response", `{"model_name":"m","model_version":"1","id":"a","outputs":[{"name":"o","shape":[2],"datatype":"BYTES","data":["a","b"]}]}`, ""},
		{"response without model_name", "inference_response", `{"outputs":[]}`, `property "model_name" is missing`},
		{"response without outputs", "inference_response", `{"model_name":"m"}`, `property "outputs" is missing`},
		{"output without datatype", "inference_response", `{"model_name":"m","outputs":[{"name":"o","shape":[1],"data":[1]}]}`, `"/outputs/0/datatype"`},
		{"server metadata", "metadata_server_response", `{"name":"s","version":"1","extensions":[]}`, ""},
		{"server metadata without extensions", "metadata_server_response", `{"name":"s","version":"1"}`, `property "extensions" is missing`},
		{"model metadata", "metadata_model_response", `{"name":"m","versions":["1"],"platform":"p","inputs":[{"name":"i","datatype":"FP32","shape":[-1]}]}`, ""},
		{"model metadata without platform", "metadata_model_response", `{"name":"m"}`, `property "platform" is missing`},
		{"metadata tensor without shape", "metadata_model_response", `{"name":"m","platform":"p","outputs":[{"name":"o","datatype":"FP32"}]}`, `"/outputs/0/shape"`},
		{"model error", "metadata_model_error_response", `{"error":"no"}`, ""},
		{"model error without error", "metadata_model_error_response", `{"message":"no"}`, `property "error" is missing`},
		{"error as the text requires it", "error_response_text", `{"error":"no"}`, ""},
		{"empty error", "error_response_text", `{"error":""}`, `"/error": minimum string length is 1`},
		{"error not a string", "error_response_text", `{"error":{"code":1}}`, `"/error"`},
		{"server ready", "ready_server_response", `{"ready":false}`, ""},
		{"server ready as the text misspells it", "ready_server_response", `{"live":true}`, `property "ready" is missing`},
		{"server live not a boolean", "live_server_response", `{"live":"yes"}`, `"/live"`},
		{"model ready without name", "ready_model_response", `{"ready":true}`, `property "name" is missing`},
		{"unknown schema", "inference_reqest", `{}`, "no schema"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := o.validate(tc.schema, []byte(tc.body))
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, errSchema)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.Contains(t, err.Error(), tc.schema)
		})
	}
	// The file's own inference_error_response leaves "error" optional,
	// which is why error bodies are checked against error_response_text too.
	assert.NoError(t, o.validate("inference_error_response", []byte(`{}`)))
}

// TestOIPTransportFails checks that the conformance transport reports bad
// bodies from a server and to it, wrong content types and paths outside the
// protocol.
func TestOIPTransportFails(t *testing.T) {
	bad := http.NewServeMux()
	bad.HandleFunc("GET /v2", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"version":"1","extensions":[]}`) // no name
	})
	bad.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"live":true}`) // no Content-Type: sniffed as text/plain
	})
	bad.HandleFunc("POST /v2/models/m/infer", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"message":"no"}`)
	})
	bad.HandleFunc("GET /v2/models/m/ready", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"name":"m","ready":true}`)
	})
	tests := []struct {
		name, method, path, body string
		invalid                  bool
		want                     []string
	}{
		{"response missing name", "GET", "/v2", "", false, []string{"metadata_server_response", "name"}},
		{"content type", "GET", "/v2/health/live", "", false, []string{"Content-Type"}},
		{"error body without error", "POST", "/v2/models/m/infer", `{"inputs":[]}`, false, []string{"error_response_text", "status 400"}},
		{"request missing inputs", "POST", "/v2/models/m/infer", `{"id":"x"}`, false, []string{"request", "inputs"}},
		{"invalid request that the schema accepts", "POST", "/v2/models/m/infer", `{"inputs":[]}`, true, []string{"meant to be invalid"}},
		{"body on a GET", "GET", "/v2/models/m/ready", `{}`, false, []string{"takes no body"}},
		{"not an OIP path", "GET", "/v3", "", false, []string{"not an endpoint"}},
		{"conformant", "GET", "/v2/models/m/ready", "", false, nil},
	}
	ts := httptest.NewServer(bad)
	defer ts.Close()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			tr := &oipTransport{base: http.DefaultTransport, schemas: loadOIPSchemas(t), fail: func(f string, a ...any) {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, fmt.Sprintf(f, a...))
			}}
			ctx := context.Background()
			if tc.invalid {
				ctx = withInvalidRequest(ctx)
			}
			req, err := http.NewRequestWithContext(ctx, tc.method, ts.URL+tc.path, bytes.NewReader([]byte(tc.body)))
			require.NoError(t, err)
			resp, err := (&http.Client{Transport: tr}).Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			if tc.want == nil {
				assert.Empty(t, got)
				return
			}
			require.NotEmpty(t, got)
			for _, w := range tc.want {
				assert.Contains(t, fmt.Sprint(got), w)
			}
		})
	}
}
