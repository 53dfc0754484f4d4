package serve_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/wasmreg/wasmreg/serve"
	"github.com/wasmreg/wasmreg/serve/oippb"
)

// grpcClient serves fx's server over a real grpc.Server on 127.0.0.1.
func grpcClient(t *testing.T, fx *fixture) oippb.GRPCInferenceServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := grpc.NewServer()
	fx.srv.RegisterGRPC(g)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return oippb.NewGRPCInferenceServiceClient(conn)
}

func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestGRPCHealthAndMetadata(t *testing.T) {
	c := grpcClient(t, newFixture(t))
	ctx := bounded(t)
	live, err := c.ServerLive(ctx, &oippb.ServerLiveRequest{})
	require.NoError(t, err)
	assert.True(t, live.GetLive())
	ready, err := c.ServerReady(ctx, &oippb.ServerReadyRequest{})
	require.NoError(t, err)
	assert.True(t, ready.GetReady())
	md, err := c.ServerMetadata(ctx, &oippb.ServerMetadataRequest{})
	require.NoError(t, err)
	assert.Equal(t, []string{"model_repository"}, md.GetExtensions())
	mr, err := c.ModelReady(ctx, &oippb.ModelReadyRequest{Name: "echo"})
	require.NoError(t, err)
	assert.True(t, mr.GetReady())
	mm, err := c.ModelMetadata(ctx, &oippb.ModelMetadataRequest{Name: "echo", Version: "1.0.0"})
	require.NoError(t, err)
	assert.Equal(t, "wasmreg", mm.GetPlatform())
	_, err = c.ModelMetadata(ctx, &oippb.ModelMetadataRequest{Name: "echo", Version: "9"})
	assert.Equal(t, codes.NotFound, status.Code(err))
	_, err = c.ModelReady(ctx, &oippb.ModelReadyRequest{Name: "nope"})
	assert.Equal(t, codes.NotFound, status.Code(err))
}

func input(dt string, shape []int64, c *oippb.InferTensorContents) []*oippb.ModelInferRequest_InferInputTensor {
	return []*oippb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: dt, Shape: shape, Contents: c}}
}

func TestGRPCInfer(t *testing.T) {
	c := grpcClient(t, newFixture(t))
	tests := []struct {
		name, model string
		in          []*oippb.ModelInferRequest_InferInputTensor
		wantType    string
		wantShape   []int64
		wantFP64    []float64
		wantBytes   []string
	}{
		{"FP32 rows", "echo", input("FP32", []int64{3, 2}, &oippb.InferTensorContents{Fp32Contents: []float32{1, 2, 3, 4, 5, 6}}),
			"FP64", []int64{3, 2}, []float64{1.5, 2, 1.5, 2, 1.5, 2}, nil},
		{"INT32 rows", "echo", input("INT32", []int64{2, 2}, &oippb.InferTensorContents{IntContents: []int32{1, 2, 3, 4}}),
			"FP64", []int64{2, 2}, []float64{1.5, 2, 1.5, 2}, nil},
		{"BYTES in order", "guest", input("BYTES", []int64{2}, &oippb.InferTensorContents{BytesContents: [][]byte{[]byte("za"), []byte("zb")}}),
			"BYTES", []int64{2}, nil, []string{"{}za", "{}zb"}},
		{"raw FP32 rows", "echo", input("FP32", []int64{2, 1}, nil),
			"FP64", []int64{2, 2}, []float64{1.5, 2, 1.5, 2}, nil},
		{"raw BYTES in order", "guest", input("BYTES", []int64{2}, nil),
			"BYTES", []int64{2}, nil, []string{"{}za", "{}z"}},
	}
	raw := map[string][]byte{
		"raw FP32 rows":      {0, 0, 128, 63, 0, 0, 0, 64},
		"raw BYTES in order": {2, 0, 0, 0, 'z', 'a', 1, 0, 0, 0, 'z'},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.ModelInfer(bounded(t), &oippb.ModelInferRequest{ModelName: tc.model, Id: "a", Inputs: tc.in, RawInputContents: rawOf(raw[tc.name])})
			require.NoError(t, err)
			assert.Equal(t, "a", resp.GetId())
			require.Len(t, resp.GetOutputs(), 1)
			out := resp.GetOutputs()[0]
			assert.Equal(t, tc.wantType, out.GetDatatype())
			assert.Equal(t, tc.wantShape, out.GetShape())
			assert.Equal(t, tc.wantFP64, out.GetContents().GetFp64Contents())
			var got []string
			for _, b := range out.GetContents().GetBytesContents() {
				got = append(got, string(b))
			}
			assert.Equal(t, tc.wantBytes, got)
		})
	}
}

func TestGRPCInferErrors(t *testing.T) {
	c := grpcClient(t, newFixture(t))
	fp := func(v ...float32) *oippb.InferTensorContents { return &oippb.InferTensorContents{Fp32Contents: v} }
	tests := []struct {
		name string
		req  *oippb.ModelInferRequest
		want codes.Code
	}{
		{"unknown model", &oippb.ModelInferRequest{ModelName: "nope", Inputs: input("FP32", []int64{1}, fp(1))}, codes.NotFound},
		{"unknown version", &oippb.ModelInferRequest{ModelName: "echo", ModelVersion: "9", Inputs: input("FP32", []int64{1}, fp(1))}, codes.NotFound},
		{"no inputs", &oippb.ModelInferRequest{ModelName: "echo"}, codes.InvalidArgument},
		{"unknown datatype", &oippb.ModelInferRequest{ModelName: "echo", Inputs: input("FP7", []int64{1}, fp(1))}, codes.InvalidArgument},
		{"too little data", &oippb.ModelInferRequest{ModelName: "echo", Inputs: input("FP32", []int64{2, 2}, fp(1, 2, 3))}, codes.InvalidArgument},
		{"contents of another type", &oippb.ModelInferRequest{ModelName: "echo", Inputs: input("INT32", []int64{1}, fp(1))}, codes.InvalidArgument},
		{"negative dim", &oippb.ModelInferRequest{ModelName: "echo", Inputs: input("FP32", []int64{-1}, fp(1))}, codes.InvalidArgument},
		{"raw too short", &oippb.ModelInferRequest{ModelName: "echo", Inputs: input("FP32", []int64{2}, nil), RawInputContents: [][]byte{{0, 0, 128, 63}}}, codes.InvalidArgument},
		{"raw too long", &oippb.ModelInferRequest{ModelName: "echo", Inputs: input("FP32", []int64{1}, nil), RawInputContents: [][]byte{{0, 0, 128, 63, 0}}}, codes.InvalidArgument},
		{"raw and typed", &oippb.ModelInferRequest{ModelName: "echo", Inputs: input("FP32", []int64{1}, fp(1)), RawInputContents: [][]byte{{0, 0, 128, 63}}}, codes.InvalidArgument},
		{"two raw entries", &oippb.ModelInferRequest{ModelName: "echo", Inputs: input("FP32", []int64{1}, nil), RawInputContents: [][]byte{{0, 0, 128, 63}, {}}}, codes.InvalidArgument},
		{"raw BYTES length past the end", &oippb.ModelInferRequest{ModelName: "guest", Inputs: input("BYTES", []int64{1}, nil), RawInputContents: [][]byte{{9, 0, 0, 0, 'z'}}}, codes.InvalidArgument},
		{"raw BYTES more than the shape", &oippb.ModelInferRequest{ModelName: "guest", Inputs: input("BYTES", []int64{1}, nil), RawInputContents: [][]byte{{1, 0, 0, 0, 'z', 1, 0, 0, 0, 'z'}}}, codes.InvalidArgument},
		{"unknown requested output", &oippb.ModelInferRequest{ModelName: "echo", Inputs: input("FP32", []int64{1}, fp(1)),
			Outputs: []*oippb.ModelInferRequest_InferRequestedOutputTensor{{Name: "foo"}}}, codes.InvalidArgument},
		{"raw BOOL not 0 or 1", &oippb.ModelInferRequest{ModelName: "echo", Inputs: input("BOOL", []int64{1}, nil), RawInputContents: [][]byte{{2}}}, codes.InvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ModelInfer(bounded(t), tc.req)
			assert.Equal(t, tc.want, status.Code(err), "%v", err)
		})
	}
}

// The client's deadline, shorter than the server's, bounds the guest call,
// and the model keeps serving afterwards.
func TestGRPCClientDeadline(t *testing.T) {
	c := grpcClient(t, newFixture(t))
	loop := &oippb.ModelInferRequest{ModelName: "guest", Inputs: input("BYTES", []int64{1}, &oippb.InferTensorContents{BytesContents: [][]byte{[]byte("l")}})}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.ModelInfer(ctx, loop)
	assert.Equal(t, codes.DeadlineExceeded, status.Code(err), "%v", err)
	ok := &oippb.ModelInferRequest{ModelName: "guest", Inputs: input("BYTES", []int64{1}, &oippb.InferTensorContents{BytesContents: [][]byte{[]byte("z")}})}
	_, err = c.ModelInfer(bounded(t), ok)
	assert.NoError(t, err)
}

func TestGRPCHealthAndReflection(t *testing.T) {
	fx := newFixture(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := grpc.NewServer()
	fx.srv.RegisterGRPC(g)
	fx.srv.RegisterGRPCHealth(g)
	serve.RegisterGRPCReflection(g)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ctx := bounded(t)

	hc := healthpb.NewHealthClient(conn)
	for _, svc := range []string{"", "inference.GRPCInferenceService"} {
		r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		require.NoError(t, err)
		assert.Equal(t, healthpb.HealthCheckResponse_SERVING, r.GetStatus(), svc)
	}
	_, err = hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
	assert.Equal(t, codes.NotFound, status.Code(err))

	rc, err := reflectpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	require.NoError(t, err)
	require.NoError(t, rc.Send(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}}))
	resp, err := rc.Recv()
	require.NoError(t, err)
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	assert.Contains(t, names, "inference.GRPCInferenceService")
	assert.Contains(t, names, "grpc.health.v1.Health")

	require.NoError(t, fx.srv.Shutdown(ctx))
	r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_NOT_SERVING, r.GetStatus())
}

func rawOf(b []byte) [][]byte {
	if b == nil {
		return nil
	}
	return [][]byte{b}
}
