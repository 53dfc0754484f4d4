package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/wasmreg/wasmreg/serve/oippb"
)

// RegisterGRPC registers the OIP v2 gRPC service (inference.GRPCInferenceService,
// docs/SERVE.md) on the embedder's grpc.Server, serving the same models as
// Handler. It is safe for concurrent use, and so is the service it registers.
func (s *Server) RegisterGRPC(g *grpc.Server) {
	oippb.RegisterGRPCInferenceServiceServer(g, grpcService{s: s})
}

type grpcService struct {
	oippb.UnimplementedGRPCInferenceServiceServer
	s *Server
}

// grpcError maps an error to the gRPC code of its REST status.
func grpcError(err error) error {
	code := codes.Internal
	switch statusOf(err) {
	case http.StatusBadRequest:
		code = codes.InvalidArgument
	case http.StatusNotFound:
		code = codes.NotFound
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		code = codes.ResourceExhausted
	case http.StatusServiceUnavailable:
		code = codes.Unavailable
	case http.StatusGatewayTimeout:
		code = codes.DeadlineExceeded
	}
	return status.Error(code, err.Error())
}

func (g grpcService) ServerLive(context.Context, *oippb.ServerLiveRequest) (*oippb.ServerLiveResponse, error) {
	return &oippb.ServerLiveResponse{Live: true}, nil
}

func (g grpcService) ServerReady(context.Context, *oippb.ServerReadyRequest) (*oippb.ServerReadyResponse, error) {
	return &oippb.ServerReadyResponse{Ready: g.s.Ready()}, nil
}

func (g grpcService) ModelReady(_ context.Context, r *oippb.ModelReadyRequest) (*oippb.ModelReadyResponse, error) {
	m, err := g.s.lookupVersion(r.GetName(), r.GetVersion())
	if err != nil {
		return nil, grpcError(err)
	}
	m.unref()
	return &oippb.ModelReadyResponse{Ready: g.s.Ready()}, nil
}

func (g grpcService) ServerMetadata(context.Context, *oippb.ServerMetadataRequest) (*oippb.ServerMetadataResponse, error) {
	var ext []string
	if g.s.cfg.resolver != nil {
		ext = append(ext, "model_repository")
	}
	return &oippb.ServerMetadataResponse{Name: "wasmreg", Version: "1", Extensions: ext}, nil
}

func (g grpcService) ModelMetadata(_ context.Context, r *oippb.ModelMetadataRequest) (*oippb.ModelMetadataResponse, error) {
	m, err := g.s.lookupVersion(r.GetName(), r.GetVersion())
	if err != nil {
		return nil, grpcError(err)
	}
	defer m.unref()
	// As REST's model metadata: the declared signature, else the generic one.
	inputs, outputs := m.grpcTensorsMetadata()
	return &oippb.ModelMetadataResponse{
		Name: m.spec.Name, Versions: []string{m.spec.Factory.Info().Version}, Platform: "wasmreg",
		Inputs: inputs, Outputs: outputs,
	}, nil
}

func (g grpcService) ModelInfer(ctx context.Context, r *oippb.ModelInferRequest) (*oippb.ModelInferResponse, error) {
	start := time.Now()
	m, err := g.s.lookupVersion(r.GetModelName(), r.GetModelVersion())
	if err != nil {
		g.s.metrics.observe(nil, protoGRPC, start, err)
		return nil, grpcError(err)
	}
	defer m.unref()
	resp, err := g.infer(ctx, m, r)
	g.s.metrics.observe(m.met, protoGRPC, start, err)
	if err != nil {
		return nil, grpcError(err)
	}
	return resp, nil
}

func (g grpcService) infer(ctx context.Context, m *served, r *oippb.ModelInferRequest) (*oippb.ModelInferResponse, error) {
	name := m.spec.Name
	if len(r.GetInputs()) != 1 {
		return nil, fmt.Errorf("%w: model %q: %d inputs, the generic mapping takes exactly 1", ErrBadRequest, name, len(r.GetInputs()))
	}
	in := r.GetInputs()[0]
	t := tensor{Name: in.GetName(), Shape: in.GetShape(), Datatype: in.GetDatatype()}
	if err := m.checkInput(t); err != nil {
		return nil, err
	}
	var data json.RawMessage
	var err error
	switch raw := r.GetRawInputContents(); {
	case len(raw) == 0:
		data, err = typedData(in.GetDatatype(), in.GetContents())
	case len(raw) != 1:
		err = fmt.Errorf("%d raw_input_contents entries for 1 input", len(raw))
	case in.GetContents() != nil:
		err = fmt.Errorf("both contents and raw_input_contents")
	default:
		var n int
		if n, err = elements(name, t); err != nil {
			return nil, err
		}
		data, err = rawData(t.Datatype, n, raw[0])
	}
	if err != nil {
		return nil, fmt.Errorf("%w: model %q: input %q: %w", ErrBadRequest, name, t.Name, err)
	}
	t.Data = data
	var names []string
	for _, o := range r.GetOutputs() {
		names = append(names, o.GetName())
	}
	requested, err := m.checkRequested(names)
	if err != nil {
		return nil, err
	}
	reqs, bytesIn, err := rowRequests(name, t)
	if err != nil {
		return nil, err
	}
	// The client's deadline, when shorter than the server's, is the call's.
	d := g.s.cfg.requestTimeout
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl))
	}
	if d <= 0 {
		return nil, fmt.Errorf("model %q: %w", name, context.DeadlineExceeded)
	}
	resps, err := m.run(ctx, d, reqs)
	if err != nil {
		return nil, err
	}
	outs, err := m.outputsOf(resps, bytesIn)
	if err != nil {
		return nil, err
	}
	out := &oippb.ModelInferResponse{ModelName: name, ModelVersion: m.spec.Factory.Info().Version, Id: r.GetId()}
	for _, o := range selectOutputs(outs, requested) {
		out.Outputs = append(out.Outputs, &oippb.ModelInferResponse_InferOutputTensor{Name: o.Name, Datatype: o.Datatype, Shape: o.Shape, Contents: contentsOf(o)})
	}
	return out, nil
}

// typedData renders the contents field of a datatype as the JSON data
// array the REST decoder checks, so both transports validate alike.
func typedData(dt string, c *oippb.InferTensorContents) (json.RawMessage, error) {
	var v any
	switch dt {
	case "BOOL":
		v = c.GetBoolContents()
	case "INT8", "INT16", "INT32":
		v = c.GetIntContents()
	case "INT64":
		v = c.GetInt64Contents()
	case "UINT8", "UINT16", "UINT32":
		v = c.GetUintContents()
	case "UINT64":
		v = c.GetUint64Contents()
	case "FP16", "FP32":
		v = c.GetFp32Contents()
	case "FP64":
		v = c.GetFp64Contents()
	case "BYTES":
		s := make([]string, len(c.GetBytesContents()))
		for i, b := range c.GetBytesContents() {
			s[i] = string(b)
		}
		v = s
	default:
		return nil, fmt.Errorf("unknown datatype %q", dt)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if string(b) == "null" {
		b = []byte("[]")
	}
	return b, nil
}

// grpcServiceName is the OIP service's full name, as health checks and
// reflection list it.
const grpcServiceName = "inference.GRPCInferenceService"

// RegisterGRPCHealth registers the standard grpc.health.v1 service on g:
// the server ("") and inference.GRPCInferenceService are SERVING while the
// Server is ready and NOT_SERVING once Shutdown has begun, like REST's
// /v2/health/ready. Watch is not implemented. It is safe for concurrent use.
func (s *Server) RegisterGRPCHealth(g *grpc.Server) {
	healthpb.RegisterHealthServer(g, grpcHealth{s: s})
}

// RegisterGRPCReflection registers server reflection on g, so that tools
// such as grpcurl can list and describe the services. It is safe for
// concurrent use.
func RegisterGRPCReflection(g *grpc.Server) { reflection.Register(g) }

type grpcHealth struct {
	healthpb.UnimplementedHealthServer
	s *Server
}

func (h grpcHealth) status() healthpb.HealthCheckResponse_ServingStatus {
	if h.s.Ready() {
		return healthpb.HealthCheckResponse_SERVING
	}
	return healthpb.HealthCheckResponse_NOT_SERVING
}

func (h grpcHealth) Check(_ context.Context, r *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if r.GetService() != "" && r.GetService() != grpcServiceName {
		return nil, status.Errorf(codes.NotFound, "serve: no service %q", clip([]byte(r.GetService())))
	}
	return &healthpb.HealthCheckResponse{Status: h.status()}, nil
}

func (h grpcHealth) List(context.Context, *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	st := &healthpb.HealthCheckResponse{Status: h.status()}
	return &healthpb.HealthListResponse{Statuses: map[string]*healthpb.HealthCheckResponse{"": st, grpcServiceName: st}}, nil
}
