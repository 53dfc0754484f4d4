package serve

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/wasmreg/wasmreg/host"
)

// Handler returns the REST API (OIP v2, docs/SERVE.md) to mount on the
// embedder's http.Server, with GET /metrics for Prometheus (see
// [WithMetrics]). It is safe for concurrent use.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health/live", s.live)
	mux.HandleFunc("GET /livez", s.live)
	mux.HandleFunc("GET /v2/health/ready", s.ready)
	mux.HandleFunc("GET /readyz", s.ready)
	mux.HandleFunc("GET /v2", s.serverMetadata)
	mux.HandleFunc("GET /v2/{$}", s.serverMetadata) // the path the OIP OpenAPI file writes
	mux.HandleFunc("GET /v2/models/{name}", s.modelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}", s.modelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/ready", s.modelReady)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}/ready", s.modelReady)
	mux.HandleFunc("POST /v2/models/{name}/infer", s.infer)
	mux.HandleFunc("POST /v2/models/{name}/versions/{version}/infer", s.infer)
	if s.cfg.resolver != nil {
		mux.HandleFunc("POST /v2/repository/index", s.admin(s.repoIndex))
		mux.HandleFunc("POST /v2/repository/models/{name}/load", s.admin(s.repoLoad))
		mux.HandleFunc("POST /v2/repository/models/{name}/unload", s.admin(s.repoUnload))
	}
	if s.metrics.gatherer != nil {
		mux.Handle("GET /metrics", s.metrics.handler())
	}
	return s.accessLog(mux)
}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// accessLog gives every request an id (a sane incoming X-Request-Id, else
// a fresh one), returns it in the response and logs the request.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !requestIDRE.MatchString(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(sw, r)
		s.cfg.logger.LogAttrs(r.Context(), levelOf(sw.status), "serve: request",
			slogStr("request_id", id), slogStr("method", r.Method), slogStr("path", r.URL.Path),
			slogInt("status", sw.status), slogDur("duration", time.Since(start)))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type errorBody struct {
	Error string `json:"error"`
}

// statusOf maps an error to its HTTP status (docs/SERVE.md).
func statusOf(err error) int {
	var ce *host.CallError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrModelNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrBadRequest), errors.Is(err, host.ErrInputLimit), errors.Is(err, host.ErrInvalidConfig):
		return http.StatusBadRequest
	case errors.Is(err, ErrQueueFull):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrNotReady), errors.Is(err, host.ErrModelClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, host.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.As(err, &ce) && errors.Is(ce.Kind, host.ErrGuest):
		return http.StatusBadRequest // the factory rejected the request
	default:
		return http.StatusInternalServerError
	}
}

func writeError(w http.ResponseWriter, err error) {
	msg := err.Error()
	if errors.Is(err, host.ErrTrap) {
		msg = "the guest trapped: " + msg
	}
	writeJSON(w, statusOf(err), errorBody{Error: msg})
}

func (s *Server) live(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"live": true})
}

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	ok := s.Ready()
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]bool{"ready": ok})
}

func (s *Server) serverMetadata(w http.ResponseWriter, _ *http.Request) {
	ext := []string{}
	if s.cfg.resolver != nil {
		ext = append(ext, "model_repository")
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": "wasmreg", "version": "1", "extensions": ext})
}

// lookup finds the model of a request, checking its version if it names one.
func (s *Server) lookup(r *http.Request) (*served, error) {
	return s.lookupVersion(r.PathValue("name"), r.PathValue("version"))
}

// lookupVersion finds a model by name, checking its version unless empty;
// REST and gRPC share it.
func (s *Server) lookupVersion(name, v string) (*served, error) {
	m, err := s.acquire(name)
	if err != nil {
		return nil, err
	}
	if v != "" && v != m.spec.Factory.Info().Version {
		m.unref()
		return nil, fmt.Errorf("%w: model %q has no version %q (it serves %q)", ErrModelNotFound, name, v, m.spec.Factory.Info().Version)
	}
	return m, nil
}

type metadataTensor struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

func (s *Server) modelMetadata(w http.ResponseWriter, r *http.Request) {
	m, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	defer m.unref()
	info := m.spec.Factory.Info()
	// The declared signature; the generic mapping for a side without one.
	inputs, outputs := m.tensorsMetadata()
	writeJSON(w, http.StatusOK, map[string]any{
		"name": m.spec.Name, "versions": []string{info.Version}, "platform": "wasmreg",
		"inputs": inputs, "outputs": outputs,
	})
}

func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) {
	m, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	m.unref()
	writeJSON(w, http.StatusOK, map[string]any{"name": r.PathValue("name"), "ready": s.Ready()})
}

// deadline is the server's request timeout, or the client's shorter one
// from the Request-Timeout header (a Go duration such as "250ms").
func (s *Server) deadline(r *http.Request) (time.Duration, error) {
	d := s.cfg.requestTimeout
	if h := r.Header.Get("Request-Timeout"); h != "" {
		c, err := time.ParseDuration(h)
		if err != nil || c <= 0 {
			return 0, fmt.Errorf("%w: header Request-Timeout %q: want a positive duration such as 250ms", ErrBadRequest, clip([]byte(h)))
		}
		d = min(d, c)
	}
	return d, nil
}

func (s *Server) infer(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	m, err := s.lookup(r)
	if err != nil {
		s.metrics.observe(nil, protoREST, start, err)
		writeError(w, err)
		return
	}
	defer m.unref()
	resp, err := s.inferJSON(r, m)
	s.metrics.observe(m.met, protoREST, start, err)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) inferJSON(r *http.Request, m *served) (*inferResponse, error) {
	name := m.spec.Name
	d, err := s.deadline(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.cfg.bodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("model %q: request body over the limit of %d bytes: %w", name, s.cfg.bodyLimit, err)
		}
		return nil, fmt.Errorf("%w: model %q: reading the body: %w", ErrBadRequest, name, err)
	}
	var req inferRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("%w: model %q: malformed JSON: %w", ErrBadRequest, name, err)
	}
	if len(req.Inputs) != 1 {
		return nil, fmt.Errorf("%w: model %q: %d inputs, the generic mapping takes exactly 1", ErrBadRequest, name, len(req.Inputs))
	}
	if err := m.checkInput(req.Inputs[0]); err != nil {
		return nil, err
	}
	requested, err := requestedOutputs(name, req.Outputs)
	if err != nil {
		return nil, err
	}
	if requested, err = m.checkRequested(requested); err != nil {
		return nil, err
	}
	reqs, bytesIn, err := rowRequests(name, req.Inputs[0])
	if err != nil {
		return nil, err
	}
	resps, err := m.run(r.Context(), d, reqs)
	if err != nil {
		return nil, err
	}
	outs, err := m.outputsOf(resps, bytesIn)
	if err != nil {
		return nil, err
	}
	return &inferResponse{ModelName: name, ModelVersion: m.spec.Factory.Info().Version, ID: req.ID, Outputs: selectOutputs(outs, requested)}, nil
}

// run admits the rows to the model's queue and predicts them within d;
// REST and gRPC share it.
func (m *served) run(parent context.Context, d time.Duration, reqs [][]byte) ([][]byte, error) {
	// The client going away must not cancel a guest call (that would
	// close an instance): the call is bounded by the deadline alone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), d)
	defer cancel()
	release, err := m.admit(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return m.predictAll(ctx, reqs)
}

// predictAll runs the rows in parallel on the pool and returns the
// responses in order, or the first error.
func (m *served) predictAll(ctx context.Context, reqs [][]byte) ([][]byte, error) {
	resps := make([][]byte, len(reqs))
	if len(reqs) == 1 {
		out, err := m.predict(ctx, reqs[0])
		if err != nil {
			return nil, fmt.Errorf("model %q: %w", m.spec.Name, err)
		}
		resps[0] = out
		return resps, nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(reqs))
	sem := make(chan struct{}, m.spec.Instances)
	for i := range reqs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			resps[i], errs[i] = m.predict(ctx, reqs[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("model %q: row %d: %w", m.spec.Name, i, err)
		}
	}
	return resps, nil
}

// admin guards the repository extension with the bearer token.
func (s *Server) admin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.adminToken)) != 1 {
			s.cfg.logger.Warn("serve: repository call without a valid token", "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeJSON(w, http.StatusUnauthorized, errorBody{Error: "serve: the repository extension needs a valid bearer token"})
			return
		}
		next(w, r)
	}
}

func (s *Server) repoIndex(w http.ResponseWriter, _ *http.Request) {
	type entry struct {
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
		State   string `json:"state"`
	}
	s.mu.RLock()
	out := make([]entry, 0, len(s.models))
	for n, m := range s.models {
		out = append(out, entry{Name: n, Version: m.spec.Factory.Info().Version, State: "READY"})
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) repoLoad(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var body struct {
		Parameters struct {
			Config string `json:"config"`
		} `json:"parameters"`
	}
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.cfg.bodyLimit))
	if err == nil && len(raw) > 0 {
		err = json.Unmarshal(raw, &body)
	}
	if err != nil {
		writeError(w, fmt.Errorf("%w: model %q: load request: %v", ErrBadRequest, name, err))
		return
	}
	f, err := s.cfg.resolver(r.Context(), name)
	if err != nil {
		writeError(w, fmt.Errorf("%w: model %q: %v", ErrModelNotFound, name, err))
		return
	}
	if err := s.Load(r.Context(), ModelSpec{Name: name, Factory: f, Config: []byte(body.Parameters.Config)}); err != nil {
		if errors.Is(err, ErrInvalidSpec) || statusOf(err) == http.StatusInternalServerError {
			err = fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) repoUnload(w http.ResponseWriter, r *http.Request) {
	if err := s.Unload(r.Context(), r.PathValue("name")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
