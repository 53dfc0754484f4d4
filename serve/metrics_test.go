package serve_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/serve"
	"github.com/wasmreg/wasmreg/serve/oippb"
)

type labels map[string]string

// families are a scrape of /metrics, parsed.
type families map[string]*dto.MetricFamily

func scrape(t testing.TB, ts *httptest.Server) families {
	t.Helper()
	resp, err := ts.Client().Get(ts.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return mfs
}

// metric returns the series of name whose labels are exactly l, or nil.
func (f families) metric(name string, l labels) *dto.Metric {
	mf := f[name]
	if mf == nil {
		return nil
	}
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(l) {
			continue
		}
		match := true
		for _, lp := range m.GetLabel() {
			if v, ok := l[lp.GetName()]; !ok || v != lp.GetValue() {
				match = false
			}
		}
		if match {
			return m
		}
	}
	return nil
}

// value is a counter's or gauge's value, or -1 if the series is absent.
func (f families) value(name string, l labels) float64 {
	m := f.metric(name, l)
	switch {
	case m == nil:
		return -1
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	}
	return -1
}

// labelValues lists every value of label key in the wasmreg_serve_
// families.
func (f families) labelValues(key string) []string {
	seen := map[string]bool{}
	for name, mf := range f {
		if !strings.HasPrefix(name, "wasmreg_serve_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == key {
					seen[lp.GetValue()] = true
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func req(model string) labels { return labels{"model": model} }

func reqs(model, version, protocol, outcome string) labels {
	return labels{"model": model, "version": version, "protocol": protocol, "outcome": outcome}
}

// assertSeconds checks a histogram observed n values, each under 60 s.
func assertSeconds(t *testing.T, f families, name string, l labels, n uint64) {
	t.Helper()
	m := f.metric(name, l)
	require.NotNil(t, m, "%s%v", name, l)
	h := m.GetHistogram()
	require.NotNil(t, h, "%s%v", name, l)
	assert.Equal(t, n, h.GetSampleCount(), "%s%v", name, l)
	assert.Less(t, h.GetSampleSum(), 60.0*float64(n)+1e-9, "%s%v", name, l)
	b := h.GetBucket()
	var under60 *dto.Bucket
	for _, x := range b {
		if x.GetUpperBound() == 60 {
			under60 = x
		}
	}
	require.NotNil(t, under60, "%s%v: a 60 s bucket", name, l)
	assert.Equal(t, n, under60.GetCumulativeCount(), "%s%v: every observation under 60 s", name, l)
	for i := 1; i < len(b); i++ {
		assert.LessOrEqual(t, b[i-1].GetCumulativeCount(), b[i].GetCumulativeCount())
	}
}

func bytesIn(s string) string {
	return `{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["` + s + `"]}]}`
}

const echoIn = `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}`

func TestMetricsRequests(t *testing.T) {
	fx := newFixture(t, serve.WithBodyLimit(4096))
	c := grpcClient(t, fx)
	gv := fx.guest.Info().Version
	calls := []struct {
		path, body string
		hdr        []string
		status     int
	}{
		{"/v2/models/echo/infer", echoIn, nil, 200},
		{"/v2/models/echo/versions/1.0.0/infer", echoIn, nil, 200},
		{"/v2/models/echo/infer", `{"inputs":`, nil, 400},
		{"/v2/models/echo/infer", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[` + strings.Repeat("1,", 3000) + `1]}]}`, nil, 413},
		{"/v2/models/nope/infer", echoIn, nil, 404},
		{"/v2/models/echo/versions/9/infer", echoIn, nil, 404},
		{"/v2/models/guest/infer", bytesIn("z"), nil, 200},
		{"/v2/models/guest/infer", bytesIn("e"), nil, 400},
		{"/v2/models/guest/infer", bytesIn("t"), nil, 500},
		{"/v2/models/guest/infer", bytesIn("x"), nil, 500},
		{"/v2/models/guest/infer", bytesIn("b"), nil, 500},
		{"/v2/models/guest/infer", bytesIn("l"), []string{"Request-Timeout", "50ms"}, 504},
	}
	for _, call := range calls {
		status, body, _ := fx.do(t, "POST", call.path, call.body, call.hdr...)
		require.Equal(t, call.status, status, "%s %v", call.path, body)
	}
	fp1 := &oippb.InferTensorContents{Fp32Contents: []float32{1}}
	_, err := c.ModelInfer(bounded(t), &oippb.ModelInferRequest{ModelName: "echo", Inputs: input("FP32", []int64{1}, fp1)})
	require.NoError(t, err)
	_, err = c.ModelInfer(bounded(t), &oippb.ModelInferRequest{ModelName: "nope", Inputs: input("FP32", []int64{1}, fp1)})
	require.Error(t, err)
	_, err = c.ModelInfer(bounded(t), &oippb.ModelInferRequest{ModelName: "echo"})
	require.Error(t, err)

	f := scrape(t, fx.ts)
	const name = "wasmreg_serve_requests_total"
	for _, tc := range []struct {
		l    labels
		want float64
	}{
		{reqs("echo", "1.0.0", "rest", "ok"), 2},
		{reqs("echo", "1.0.0", "rest", "bad_request"), 1},
		{reqs("echo", "1.0.0", "rest", "too_large"), 1},
		{reqs("echo", "1.0.0", "rest", "not_found"), 0},
		{reqs("echo", "1.0.0", "rest", "trap"), 0},
		{reqs("", "", "rest", "not_found"), 2},
		{reqs("guest", gv, "rest", "ok"), 1},
		{reqs("guest", gv, "rest", "bad_request"), 1},
		{reqs("guest", gv, "rest", "trap"), 2},
		{reqs("guest", gv, "rest", "error"), 1},
		{reqs("guest", gv, "rest", "timeout"), 1},
		{reqs("guest", gv, "rest", "queue_full"), 0},
		{reqs("echo", "1.0.0", "grpc", "ok"), 1},
		{reqs("echo", "1.0.0", "grpc", "bad_request"), 1},
		{reqs("", "", "grpc", "not_found"), 1},
		{reqs("guest", gv, "grpc", "ok"), 0},
	} {
		assert.Equal(t, tc.want, f.value(name, tc.l), "%s%v", name, tc.l)
	}
	const kinds = "wasmreg_serve_guest_errors_total"
	for kind, want := range map[string]float64{"trap": 1, "stack_overflow": 1, "limit": 1, "timeout": 1, "guest_error": 1, "memory_limit": 0} {
		assert.Equal(t, want, f.value(kinds, labels{"model": "guest", "kind": kind}), kind)
		assert.Equal(t, 0.0, f.value(kinds, labels{"model": "echo", "kind": kind}), kind)
	}
	// Label values come only from loaded models and fixed sets.
	assert.Equal(t, []string{"", "echo", "guest"}, f.labelValues("model"))
	assert.Equal(t, []string{"", "1.0.0", gv}, f.labelValues("version"))
	assert.Equal(t, []string{"grpc", "rest"}, f.labelValues("protocol"))

	assertSeconds(t, f, "wasmreg_serve_request_duration_seconds", labels{"model": "echo", "version": "1.0.0", "protocol": "rest"}, 4)
	assertSeconds(t, f, "wasmreg_serve_request_duration_seconds", labels{"model": "echo", "version": "1.0.0", "protocol": "grpc"}, 2)
	assertSeconds(t, f, "wasmreg_serve_request_duration_seconds", labels{"model": "", "version": "", "protocol": "rest"}, 2)
	assertSeconds(t, f, "wasmreg_serve_request_duration_seconds", labels{"model": "guest", "version": gv, "protocol": "rest"}, 6)
	// Admitted: the requests that passed their checks and ran.
	assertSeconds(t, f, "wasmreg_serve_queue_wait_seconds", req("echo"), 3)
	assertSeconds(t, f, "wasmreg_serve_instance_wait_seconds", req("echo"), 3)
	assertSeconds(t, f, "wasmreg_serve_queue_wait_seconds", req("guest"), 6)
	assert.Equal(t, 2.0, f.value("wasmreg_serve_model_loads_total", labels{"result": "loaded"}))
	assert.Equal(t, 0.0, f.value("wasmreg_serve_model_loads_total", labels{"result": "failed"}))
	assert.Equal(t, 2.0, f.value("wasmreg_serve_models", labels{}))
	assert.NotNil(t, f["go_goroutines"], "the Go collector")
	assert.NotNil(t, f["process_cpu_seconds_total"], "the process collector")

	// The trap, stack overflow, output bomb and timeout each closed a
	// pooled instance, which is rebuilt: 2 builds at load, 4 rebuilds.
	require.Eventually(t, func() bool {
		f = scrape(t, fx.ts)
		return f.value("wasmreg_serve_instances", labels{"model": "guest", "state": "idle"}) == 2
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, 2.0, f.value("wasmreg_serve_instances", labels{"model": "guest", "state": "live"}))
	assert.Equal(t, 2.0, f.value("wasmreg_serve_instances", labels{"model": "echo", "state": "live"}))
	assertSeconds(t, f, "wasmreg_serve_build_duration_seconds", req("guest"), 6)
	assertSeconds(t, f, "wasmreg_serve_build_duration_seconds", req("echo"), 2)
}

// TestMetricsQueueFull fills the one running slot with a looping request,
// seen through the idle gauge, so that the next request finds the queue
// full.
func TestMetricsQueueFull(t *testing.T) {
	fx := newFixture(t, serve.WithConcurrency(1, 0))
	done := make(chan int)
	go func() {
		s, _, _ := fx.do(t, "POST", "/v2/models/guest/infer", bytesIn("l"), "Request-Timeout", "1s")
		done <- s
	}()
	require.Eventually(t, func() bool {
		return scrape(t, fx.ts).value("wasmreg_serve_instances", labels{"model": "guest", "state": "idle"}) == 1
	}, 5*time.Second, 5*time.Millisecond)
	s, _, _ := fx.do(t, "POST", "/v2/models/guest/infer", bytesIn("z"))
	assert.Equal(t, 429, s)
	assert.Equal(t, 504, <-done)
	f := scrape(t, fx.ts)
	gv := fx.guest.Info().Version
	assert.Equal(t, 1.0, f.value("wasmreg_serve_requests_total", reqs("guest", gv, "rest", "queue_full")))
	assert.Equal(t, 1.0, f.value("wasmreg_serve_requests_total", reqs("guest", gv, "rest", "timeout")))
	assertSeconds(t, f, "wasmreg_serve_queue_wait_seconds", req("guest"), 1)
}

// hasModel reports whether any wasmreg_serve_ series carries model=name.
func (f families) hasModel(name string) []string {
	var in []string
	for fam, mf := range f {
		if !strings.HasPrefix(fam, "wasmreg_serve_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "model" && lp.GetValue() == name {
					in = append(in, fam)
				}
			}
		}
	}
	sort.Strings(in)
	return in
}

func TestMetricsLifecycle(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	require.NoError(t, fx.srv.Load(ctx, serve.ModelSpec{Name: "x", Factory: fx.echo, Config: []byte(`[1]`)}))
	status, _, _ := fx.do(t, "POST", "/v2/models/x/infer", echoIn)
	require.Equal(t, 200, status)
	f := scrape(t, fx.ts)
	assert.Equal(t, 1.0, f.value("wasmreg_serve_requests_total", reqs("x", "1.0.0", "rest", "ok")))
	assert.Equal(t, []string{
		"wasmreg_serve_build_duration_seconds", "wasmreg_serve_guest_errors_total", "wasmreg_serve_instance_wait_seconds",
		"wasmreg_serve_instances", "wasmreg_serve_queue_wait_seconds", "wasmreg_serve_request_duration_seconds", "wasmreg_serve_requests_total",
	}, dedup(f.hasModel("x")))

	// A reload at another version drops the old version's series and
	// keeps the model's own.
	gv := fx.guest.Info().Version
	require.NoError(t, fx.srv.Load(ctx, serve.ModelSpec{Name: "x", Factory: fx.guest, Config: []byte(`{}`)}))
	status, _, _ = fx.do(t, "POST", "/v2/models/x/infer", bytesIn("z"))
	require.Equal(t, 200, status)
	f = scrape(t, fx.ts)
	assert.Equal(t, -1.0, f.value("wasmreg_serve_requests_total", reqs("x", "1.0.0", "rest", "ok")))
	assert.Nil(t, f.metric("wasmreg_serve_request_duration_seconds", labels{"model": "x", "version": "1.0.0", "protocol": "rest"}))
	assert.Equal(t, 1.0, f.value("wasmreg_serve_requests_total", reqs("x", gv, "rest", "ok")))
	assertSeconds(t, f, "wasmreg_serve_build_duration_seconds", req("x"), 2)
	assert.Equal(t, 1.0, f.value("wasmreg_serve_model_loads_total", labels{"result": "replaced"}))

	// A failed load of a new name leaves no series; of a served name at
	// its version, the served model's series stay.
	err := fx.srv.Load(ctx, serve.ModelSpec{Name: "broken", Factory: fx.guest, Config: []byte(`"Trap"`)})
	require.ErrorIs(t, err, host.ErrTrap)
	err = fx.srv.Load(ctx, serve.ModelSpec{Name: "x", Factory: fx.guest, Config: []byte(`"Trap"`)})
	require.ErrorIs(t, err, host.ErrTrap)
	err = fx.srv.Load(ctx, serve.ModelSpec{Name: "echo", Factory: fx.guest, Config: []byte(`"Trap"`)})
	require.ErrorIs(t, err, host.ErrTrap)
	f = scrape(t, fx.ts)
	assert.Empty(t, f.hasModel("broken"))
	assert.Equal(t, 3.0, f.value("wasmreg_serve_model_loads_total", labels{"result": "failed"}))
	assert.Equal(t, 1.0, f.value("wasmreg_serve_guest_errors_total", labels{"model": "x", "kind": "trap"}))
	assert.Equal(t, 1.0, f.value("wasmreg_serve_requests_total", reqs("x", gv, "rest", "ok")))
	assert.Nil(t, f.metric("wasmreg_serve_requests_total", reqs("echo", gv, "rest", "ok")), "the failed version's series")
	assert.Equal(t, 0.0, f.value("wasmreg_serve_requests_total", reqs("echo", "1.0.0", "rest", "ok")))

	// Unload deletes every series of the model.
	uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, fx.srv.Unload(uctx, "x"))
	f = scrape(t, fx.ts)
	assert.Empty(t, f.hasModel("x"))
	assert.NotEmpty(t, f.hasModel("echo"))
	assert.Equal(t, 1.0, f.value("wasmreg_serve_model_unloads_total", labels{}))
	assert.Equal(t, 2.0, f.value("wasmreg_serve_models", labels{}))

	// Load and unload through the repository extension, many times: the
	// number of series does not grow.
	auth := []string{"Authorization", "Bearer " + token}
	count := func() int {
		n := 0
		for name, mf := range scrape(t, fx.ts) {
			if strings.HasPrefix(name, "wasmreg_serve_") {
				n += len(mf.GetMetric())
			}
		}
		return n
	}
	before := count()
	for range 5 {
		status, _, _ = fx.do(t, "POST", "/v2/repository/models/echo2/load", `{"parameters":{"config":"[7]"}}`, auth...)
		require.Equal(t, 200, status)
		status, _, _ = fx.do(t, "POST", "/v2/models/echo2/infer", echoIn)
		require.Equal(t, 200, status)
		status, _, _ = fx.do(t, "POST", "/v2/repository/models/echo2/unload", "", auth...)
		require.Equal(t, 200, status)
		status, _, _ = fx.do(t, "POST", "/v2/repository/models/unknown-"+fmt.Sprint(time.Now().UnixNano())+"/load", `{}`, auth...)
		require.Equal(t, 404, status)
	}
	assert.Equal(t, before, count())
	assert.Equal(t, []string{"", "echo", "guest"}, scrape(t, fx.ts).labelValues("model"))
}

func dedup(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// TestMetricsHammer: many goroutines infer over REST and gRPC while others
// scrape and the model is reloaded at its version; every request is
// counted once.
func TestMetricsHammer(t *testing.T) {
	fx := newFixture(t)
	c := grpcClient(t, fx)
	const workers, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if w%2 == 0 {
					status, body, _ := fx.do(t, "POST", "/v2/models/echo/infer", echoIn)
					if status != 200 {
						errs <- fmt.Errorf("status %d: %v", status, body)
					}
					continue
				}
				_, err := c.ModelInfer(bounded(t), &oippb.ModelInferRequest{ModelName: "echo",
					Inputs: input("FP32", []int64{1}, &oippb.InferTensorContents{Fp32Contents: []float32{1}})})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	stop := make(chan struct{})
	var side sync.WaitGroup
	side.Add(2)
	go func() {
		defer side.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = scrape(t, fx.ts)
				time.Sleep(2 * time.Millisecond)
			}
		}
	}()
	go func() {
		defer side.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := fx.srv.Load(context.Background(), serve.ModelSpec{Name: "echo", Factory: fx.echo, Config: []byte(`[1]`), Instances: 1 + i%2}); err != nil {
				errs <- err
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	wg.Wait()
	close(stop)
	side.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	f := scrape(t, fx.ts)
	half := float64(workers / 2 * each)
	assert.Equal(t, half, f.value("wasmreg_serve_requests_total", reqs("echo", "1.0.0", "rest", "ok")))
	assert.Equal(t, half, f.value("wasmreg_serve_requests_total", reqs("echo", "1.0.0", "grpc", "ok")))
	assertSeconds(t, f, "wasmreg_serve_request_duration_seconds", labels{"model": "echo", "version": "1.0.0", "protocol": "rest"}, uint64(half))
	assertSeconds(t, f, "wasmreg_serve_request_duration_seconds", labels{"model": "echo", "version": "1.0.0", "protocol": "grpc"}, uint64(half))
	assertSeconds(t, f, "wasmreg_serve_queue_wait_seconds", req("echo"), uint64(2*half))
	assertSeconds(t, f, "wasmreg_serve_instance_wait_seconds", req("echo"), uint64(2*half))
}

func TestWithMetrics(t *testing.T) {
	h, err := host.New(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	echo := loadFactory(t, h, "echo.wasm")
	serveOn := func(t *testing.T, opts ...serve.Option) *httptest.Server {
		srv, err := serve.New(append([]serve.Option{serve.WithLogger(quiet())}, opts...)...)
		require.NoError(t, err)
		t.Cleanup(func() { _ = srv.Close() })
		require.NoError(t, srv.Load(context.Background(), serve.ModelSpec{Name: "echo", Factory: echo, Config: []byte(`[1]`)}))
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(ts.Close)
		resp, err := ts.Client().Post(ts.URL+"/v2/models/echo/infer", "application/json", strings.NewReader(echoIn))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		return ts
	}

	t.Run("caller registry", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		mine := prometheus.NewCounter(prometheus.CounterOpts{Name: "mine_total", Help: "The caller's."})
		reg.MustRegister(mine)
		mine.Add(3)
		ts := serveOn(t, serve.WithMetrics(reg))
		f := scrape(t, ts)
		assert.Equal(t, 3.0, f.value("mine_total", labels{}), "/metrics serves the caller's registry")
		assert.Equal(t, 1.0, f.value("wasmreg_serve_requests_total", reqs("echo", "1.0.0", "rest", "ok")))
		assert.Nil(t, f["go_goroutines"], "the Go collector is the caller's to add")

		_, err := serve.New(serve.WithMetrics(reg))
		require.ErrorIs(t, err, serve.ErrInvalidOption)
		var are prometheus.AlreadyRegisteredError
		require.ErrorAs(t, err, &are)
		assert.Contains(t, err.Error(), "WithMetrics")
		assert.Contains(t, err.Error(), "wasmreg_serve_requests_total")
		assert.Equal(t, 1.0, scrape(t, ts).value("wasmreg_serve_requests_total", reqs("echo", "1.0.0", "rest", "ok")))
	})

	t.Run("conflict undoes the registrations", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "wasmreg_serve_model_unloads_total", Help: "In the way."}))
		_, err := serve.New(serve.WithMetrics(reg))
		require.ErrorIs(t, err, serve.ErrInvalidOption)
		assert.Contains(t, err.Error(), "metric wasmreg_serve_model_unloads_total")
		mfs, err := reg.Gather()
		require.NoError(t, err)
		require.Len(t, mfs, 1)
		assert.Equal(t, "wasmreg_serve_model_unloads_total", mfs[0].GetName())
		// Nothing left behind: a second try trips on the same metric, not
		// on the first one's leftovers.
		_, err = serve.New(serve.WithMetrics(reg))
		require.ErrorIs(t, err, serve.ErrInvalidOption)
		assert.Contains(t, err.Error(), "metric wasmreg_serve_model_unloads_total")
	})

	t.Run("registerer without a gatherer", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		tsA := serveOn(t, serve.WithMetrics(prometheus.WrapRegistererWith(prometheus.Labels{"server": "a"}, reg)))
		serveOn(t, serve.WithMetrics(prometheus.WrapRegistererWith(prometheus.Labels{"server": "b"}, reg)))
		resp, err := tsA.Client().Get(tsA.URL + "/metrics")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		mfs, err := reg.Gather()
		require.NoError(t, err)
		f := families{}
		for _, mf := range mfs {
			f[mf.GetName()] = mf
		}
		for _, server := range []string{"a", "b"} {
			l := reqs("echo", "1.0.0", "rest", "ok")
			l["server"] = server
			assert.Equal(t, 1.0, f.value("wasmreg_serve_requests_total", l), server)
		}
	})

	t.Run("nil", func(t *testing.T) {
		_, err := serve.New(serve.WithMetrics(nil))
		require.ErrorIs(t, err, serve.ErrInvalidOption)
		assert.Contains(t, err.Error(), "WithMetrics")
	})
}

// ExampleWithMetrics registers a server's metrics on the caller's registry
// and reads the request counter after one inference.
func ExampleWithMetrics() {
	ctx := context.Background()
	h, _ := host.New(ctx)
	defer h.Close(ctx)
	wasm, _ := os.ReadFile("../host/testdata/echo.wasm")
	f, err := h.Load(ctx, wasm)
	if err != nil {
		fmt.Println(err)
		return
	}
	reg := prometheus.NewRegistry()
	srv, err := serve.New(serve.WithLogger(quiet()), serve.WithMetrics(reg))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	if err := srv.Load(ctx, serve.ModelSpec{Name: "echo", Factory: f, Config: []byte(`[0.5]`)}); err != nil {
		fmt.Println(err)
		return
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/v2/models/echo/infer", "application/json", strings.NewReader(echoIn))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "wasmreg_serve_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if v := m.GetCounter().GetValue(); v > 0 {
				var l []string
				for _, lp := range m.GetLabel() {
					l = append(l, lp.GetName()+"="+lp.GetValue())
				}
				fmt.Println(mf.GetName(), strings.Join(l, " "), v)
			}
		}
	}
	// Output:
	// wasmreg_serve_requests_total model=echo outcome=ok protocol=rest version=1.0.0 1
}

// TestMetricsRequestIsolation: a model in request isolation builds a
// sandbox per request, each observed, and keeps none alive between them.
func TestMetricsRequestIsolation(t *testing.T) {
	fx := newFixture(t)
	require.NoError(t, fx.srv.Load(context.Background(), serve.ModelSpec{Name: "iso", Factory: fx.guest, Config: []byte(`{}`), Isolation: serve.IsolationRequest}))
	for _, in := range []string{"z", "z", "t"} {
		status, body, _ := fx.do(t, "POST", "/v2/models/iso/infer", bytesIn(in))
		require.Contains(t, []int{200, 500}, status, "%v", body)
	}
	f := scrape(t, fx.ts)
	gv := fx.guest.Info().Version
	assert.Equal(t, 2.0, f.value("wasmreg_serve_requests_total", reqs("iso", gv, "rest", "ok")))
	assert.Equal(t, 1.0, f.value("wasmreg_serve_requests_total", reqs("iso", gv, "rest", "trap")))
	assert.Equal(t, 1.0, f.value("wasmreg_serve_guest_errors_total", labels{"model": "iso", "kind": "trap"}))
	assertSeconds(t, f, "wasmreg_serve_build_duration_seconds", req("iso"), 1+3)
	assertSeconds(t, f, "wasmreg_serve_instance_wait_seconds", req("iso"), 0) // no pool to wait for
	assert.Equal(t, 0.0, f.value("wasmreg_serve_instances", labels{"model": "iso", "state": "live"}))
	assert.Equal(t, 0.0, f.value("wasmreg_serve_instances", labels{"model": "iso", "state": "idle"}))
}
