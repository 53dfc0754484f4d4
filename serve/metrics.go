package serve

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wasmreg/wasmreg/host"
)

// WithMetrics registers the server's Prometheus collectors (docs/SERVE.md,
// "Metrics") on reg instead of on a registry of the server's own. The Go
// and process collectors are then the caller's to register. If reg is also
// a [prometheus.Gatherer] (a *prometheus.Registry is), GET /metrics serves
// everything reg gathers; otherwise (say, a [prometheus.WrapRegistererWith])
// the Handler has no /metrics and the caller exposes reg its own way. New
// fails, wrapping [ErrInvalidOption] and naming the metric, if reg refuses
// a collector, as it does a second Server's on the same registry: wrap reg
// with a distinguishing label for each Server. The collectors are safe
// for concurrent use: scrapes run while requests are served.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(c *config) error {
		if reg == nil {
			return invalid("WithMetrics", "nil registerer")
		}
		c.registerer = reg
		return nil
	}
}

// The fixed label values: protocols, outcomes and guest error kinds. Label
// values come only from these and from the names and versions of loaded
// models, so the number of series stays bounded.
const (
	protoREST = iota
	protoGRPC
	numProtocols
)

var protocolNames = [numProtocols]string{"rest", "grpc"}

type outcome int

const (
	outcomeOK outcome = iota
	outcomeBadRequest
	outcomeNotFound
	outcomeTooLarge
	outcomeQueueFull
	outcomeNotReady
	outcomeTimeout
	outcomeTrap
	outcomeError
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "bad_request", "not_found", "too_large", "queue_full", "not_ready", "timeout", "trap", "error"}

// outcomeOf classifies a request's error by the status REST answers it
// with (gRPC's codes derive from the same), so metrics and responses agree.
func outcomeOf(err error) outcome {
	if err == nil {
		return outcomeOK
	}
	switch statusOf(err) {
	case http.StatusBadRequest:
		return outcomeBadRequest
	case http.StatusNotFound:
		return outcomeNotFound
	case http.StatusRequestEntityTooLarge:
		return outcomeTooLarge
	case http.StatusTooManyRequests:
		return outcomeQueueFull
	case http.StatusServiceUnavailable:
		return outcomeNotReady
	case http.StatusGatewayTimeout:
		return outcomeTimeout
	}
	if errors.Is(err, host.ErrTrap) {
		return outcomeTrap
	}
	return outcomeError
}

type guestKind int

const (
	kindTrap guestKind = iota
	kindStackOverflow
	kindTimeout
	kindMemoryLimit
	kindLimit
	kindGuestError
	numKinds
	kindNone guestKind = -1
)

var kindNames = [numKinds]string{"trap", "stack_overflow", "timeout", "memory_limit", "limit", "guest_error"}

// guestKindOf classifies an error of a guest call (build or predict) by
// the host's typed errors; kindNone for errors that are not the guest's
// (a closed model, a canceled context).
func guestKindOf(err error) guestKind {
	var le *host.LimitError
	switch {
	case err == nil:
		return kindNone
	case errors.Is(err, host.ErrTimeout):
		return kindTimeout
	case errors.Is(err, host.ErrStackOverflow):
		return kindStackOverflow
	case errors.Is(err, host.ErrMemoryLimit):
		return kindMemoryLimit
	case errors.As(err, &le):
		return kindLimit
	case errors.Is(err, host.ErrTrap):
		return kindTrap
	case errors.Is(err, host.ErrGuest):
		return kindGuestError
	}
	return kindNone
}

// secondsBuckets spans a fast guest call (sub-millisecond) to the default
// request timeout and beyond.
var secondsBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

const ns = "wasmreg_serve_"

// metrics are a Server's collectors. The vectors are safe for concurrent
// use; children are resolved per model at load (modelMetrics), not per
// request.
type metrics struct {
	gatherer prometheus.Gatherer // nil: no /metrics

	requests     *prometheus.CounterVec   // model, version, protocol, outcome
	duration     *prometheus.HistogramVec // model, version, protocol
	queueWait    *prometheus.HistogramVec // model
	instanceWait *prometheus.HistogramVec // model
	builds       *prometheus.HistogramVec // model
	guestErrors  *prometheus.CounterVec   // model, kind
	loads        *prometheus.CounterVec   // result
	unloads      prometheus.Counter

	unknown *modelMetrics // model="" version="": requests that found no model
}

// Load results, the values of loads_total's label.
const (
	loadLoaded   = "loaded"
	loadReplaced = "replaced"
	loadFailed   = "failed"
)

// newMetrics builds the collectors and registers them on reg (or on a
// fresh registry with the Go and process collectors if reg is nil); s
// feeds the instance gauges.
func newMetrics(s *Server, reg prometheus.Registerer) (*metrics, error) {
	mt := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "requests_total",
			Help: "Inference requests by model, version, protocol (rest, grpc) and outcome; model=\"\" for requests that found no model."},
			[]string{"model", "version", "protocol", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: ns + "request_duration_seconds",
			Help: "Time from an inference request's arrival to its answer.", Buckets: secondsBuckets},
			[]string{"model", "version", "protocol"}),
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: ns + "queue_wait_seconds",
			Help: "Time an inference request waited for one of the model's running slots.", Buckets: secondsBuckets},
			[]string{"model"}),
		instanceWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: ns + "instance_wait_seconds",
			Help: "Time a row waited for an idle pooled instance.", Buckets: secondsBuckets},
			[]string{"model"}),
		builds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: ns + "build_duration_seconds",
			Help: "Time to build an instance: at load, per request in request isolation, and to replace a failed one.", Buckets: secondsBuckets},
			[]string{"model"}),
		guestErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "guest_errors_total",
			Help: "Failed guest calls (builds and predictions) by model and kind."},
			[]string{"model", "kind"}),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "model_loads_total",
			Help: "Model loads by result: loaded (a new name), replaced (a reload), failed."},
			[]string{"result"}),
		unloads: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "model_unloads_total",
			Help: "Models unloaded."}),
	}
	for _, r := range []string{loadLoaded, loadReplaced, loadFailed} {
		mt.loads.WithLabelValues(r)
	}
	var own *prometheus.Registry
	if reg == nil {
		own = prometheus.NewRegistry()
		own.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg = own
	}
	cs := []struct {
		name string
		c    prometheus.Collector
	}{
		{"requests_total", mt.requests}, {"request_duration_seconds", mt.duration},
		{"queue_wait_seconds", mt.queueWait}, {"instance_wait_seconds", mt.instanceWait},
		{"build_duration_seconds", mt.builds}, {"guest_errors_total", mt.guestErrors},
		{"model_loads_total", mt.loads}, {"model_unloads_total", mt.unloads},
		{"instances and models", newPoolCollector(s)},
	}
	for i, c := range cs {
		if err := reg.Register(c.c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done.c)
			}
			return nil, fmt.Errorf("%w: WithMetrics: metric %s%s: %w", ErrInvalidOption, ns, c.name, err)
		}
	}
	if g, ok := reg.(prometheus.Gatherer); ok {
		mt.gatherer = g
	}
	mt.unknown = &modelMetrics{}
	mt.unknown.resolveRequests(mt, "", "")
	return mt, nil
}

// handler serves the gatherer's metrics, with a few scrapes at a time.
func (mt *metrics) handler() http.Handler {
	return promhttp.HandlerFor(mt.gatherer, promhttp.HandlerOpts{MaxRequestsInFlight: 4, ErrorHandling: promhttp.ContinueOnError})
}

// forModel resolves the children of a model being loaded.
func (mt *metrics) forModel(name, version string) *modelMetrics {
	mm := &modelMetrics{version: version}
	mm.resolveRequests(mt, name, version)
	mm.queueWait = mt.queueWait.WithLabelValues(name)
	mm.instanceWait = mt.instanceWait.WithLabelValues(name)
	mm.build = mt.builds.WithLabelValues(name)
	for k := range numKinds {
		mm.guestErrors[k] = mt.guestErrors.WithLabelValues(name, kindNames[k])
	}
	return mm
}

// forget deletes every series of the model name.
func (mt *metrics) forget(name string) {
	l := prometheus.Labels{"model": name}
	mt.requests.DeletePartialMatch(l)
	mt.duration.DeletePartialMatch(l)
	mt.queueWait.DeletePartialMatch(l)
	mt.instanceWait.DeletePartialMatch(l)
	mt.builds.DeletePartialMatch(l)
	mt.guestErrors.DeletePartialMatch(l)
}

// forgetVersion deletes the series of one version of the model name.
func (mt *metrics) forgetVersion(name, version string) {
	l := prometheus.Labels{"model": name, "version": version}
	mt.requests.DeletePartialMatch(l)
	mt.duration.DeletePartialMatch(l)
}

// servedMetrics returns the children of the model served as name, or nil.
func (s *Server) servedMetrics(name string) *modelMetrics {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if m := s.models[name]; m != nil {
		return m.met
	}
	return nil
}

// loadFailed counts a failed load of name at version and deletes the
// series it created: all of the model's if none was served (old is nil),
// else those of version if the served model has another.
func (mt *metrics) loadFailed(old *modelMetrics, name, version string) {
	mt.loads.WithLabelValues(loadFailed).Inc()
	switch {
	case old == nil:
		mt.forget(name)
	case old.version != version:
		mt.forgetVersion(name, version)
	}
}

// loaded counts a load at version that replaced old (or nil), deleting
// the series of old's version if it differs.
func (mt *metrics) loaded(old *served, version string) {
	if old == nil {
		mt.loads.WithLabelValues(loadLoaded).Inc()
		return
	}
	mt.loads.WithLabelValues(loadReplaced).Inc()
	if old.met.version != version {
		mt.forgetVersion(old.spec.Name, old.met.version)
	}
}

// unloaded counts an unload of name and deletes the model's series.
func (mt *metrics) unloaded(name string) {
	mt.unloads.Inc()
	mt.forget(name)
}

// observe counts a finished inference request; mm is nil if it found no
// model.
func (mt *metrics) observe(mm *modelMetrics, proto int, start time.Time, err error) {
	if mm == nil {
		mm = mt.unknown
	}
	mm.requests[proto][outcomeOf(err)].Inc()
	mm.duration[proto].Observe(time.Since(start).Seconds())
}

// modelMetrics are the children of one loaded model's series, resolved
// once. It is immutable and safe for concurrent use.
type modelMetrics struct {
	version      string
	requests     [numProtocols][numOutcomes]prometheus.Counter
	duration     [numProtocols]prometheus.Observer
	queueWait    prometheus.Observer
	instanceWait prometheus.Observer
	build        prometheus.Observer
	guestErrors  [numKinds]prometheus.Counter
}

func (mm *modelMetrics) resolveRequests(mt *metrics, name, version string) {
	for p := range numProtocols {
		for o := range numOutcomes {
			mm.requests[p][o] = mt.requests.WithLabelValues(name, version, protocolNames[p], outcomeNames[o])
		}
		mm.duration[p] = mt.duration.WithLabelValues(name, version, protocolNames[p])
	}
}

// guestError counts err if it is a guest call's failure.
func (mm *modelMetrics) guestError(err error) {
	if k := guestKindOf(err); k != kindNone {
		mm.guestErrors[k].Inc()
	}
}

// timeBuild builds an instance of m, observing how long it took and how
// it failed.
func (m *served) timeBuild(build func() (*host.Model, error)) (*host.Model, error) {
	start := time.Now()
	hm, err := build()
	m.met.build.Observe(time.Since(start).Seconds())
	m.met.guestError(err)
	return hm, err
}

// labelVersion makes a factory's version safe as a label value (the host
// checks it is semver; this guards the UTF-8 that client_golang demands).
func labelVersion(v string) string { return strings.ToValidUTF8(v, "\uFFFD") }

// poolCollector reports the instance gauges from the model table at
// scrape time, so that an unloaded model's series vanish with it and the
// hot path pays nothing.
type poolCollector struct {
	s         *Server
	instances *prometheus.Desc
	models    *prometheus.Desc
}

func newPoolCollector(s *Server) *poolCollector {
	return &poolCollector{s: s,
		instances: prometheus.NewDesc(ns+"instances", "Instances of a model: live (built, not closed; in request isolation, the sandboxes running) and idle (pooled, waiting for a request).", []string{"model", "state"}, nil),
		models:    prometheus.NewDesc(ns+"models", "Models served.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.instances
	ch <- c.models
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.mu.RLock()
	models := make([]*served, 0, len(c.s.models))
	for _, m := range c.s.models {
		models = append(models, m)
	}
	c.s.mu.RUnlock()
	ch <- prometheus.MustNewConstMetric(c.models, prometheus.GaugeValue, float64(len(models)))
	for _, m := range models {
		live, idle := m.instanceCounts()
		ch <- prometheus.MustNewConstMetric(c.instances, prometheus.GaugeValue, float64(live), m.spec.Name, "live")
		ch <- prometheus.MustNewConstMetric(c.instances, prometheus.GaugeValue, float64(idle), m.spec.Name, "idle")
	}
}
