// Command benchserver is the server side of `make bench-serve`: in mode
// "wasmreg" it mounts package serve on a plain http.Server and grpc.Server,
// exactly as an embedder would; in mode "bare" it serves the two baselines,
// a bare net/http handler answering a fixed 64-byte body and a bare
// grpc-go ModelInfer answering a fixed response.
//
// It listens on loopback addresses given by flags (port 0 picks a free
// one), then prints one line on standard output,
//
//	ready http=127.0.0.1:PORT grpc=127.0.0.1:PORT gomaxprocs=N
//
// and serves until SIGTERM or SIGINT, when it shuts down and writes the
// CPU profile if -cpuprofile asked for one.
//
//	benchserver -mode wasmreg -model name=echo,file=host/testdata/echo.wasm,config=[0.5]
//	benchserver -mode bare
//
// The driver (bench/serve/cmd/benchserve) starts it, or with -wasmreg-serve
// the `wasmreg serve` command on a models file saying the same, so that
// both package serve as embedded and the command are measured.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/serve"
	"github.com/wasmreg/wasmreg/serve/oippb"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
		os.Exit(1)
	}
}

// modelFlag is one -model flag: name=N,file=F[,instances=K][,isolation=I][,config=JSON].
// config comes last and takes the rest of the value, commas included.
type modelFlag struct {
	name, file, isolation string
	instances             int
	config                string
}

type modelFlags []modelFlag

func (m *modelFlags) String() string { return fmt.Sprint(len(*m), " models") }

func (m *modelFlags) Set(v string) error {
	mf := modelFlag{config: "{}", instances: runtime.GOMAXPROCS(0)}
	rest := v
	for rest != "" {
		var field string
		field, rest, _ = strings.Cut(rest, ",")
		key, val, ok := strings.Cut(field, "=")
		if !ok {
			return fmt.Errorf("-model %q: field %q is not key=value", v, field)
		}
		switch key {
		case "name":
			mf.name = val
		case "file":
			mf.file = val
		case "isolation":
			mf.isolation = val
		case "instances":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return fmt.Errorf("-model %q: instances %q: want a positive number", v, val)
			}
			mf.instances = n
		case "config":
			if rest != "" {
				val += "," + rest
			}
			mf.config, rest = val, ""
		default:
			return fmt.Errorf("-model %q: unknown field %q (want name, file, instances, isolation, config)", v, key)
		}
	}
	if mf.name == "" || mf.file == "" {
		return fmt.Errorf("-model %q: name= and file= are required", v)
	}
	*m = append(*m, mf)
	return nil
}

// artifactFlags are the -artifact NAME=FILE flags.
type artifactFlags map[string]string

func (a artifactFlags) String() string { return fmt.Sprint(len(a), " artifacts") }

func (a artifactFlags) Set(v string) error {
	name, file, ok := strings.Cut(v, "=")
	if !ok || name == "" || file == "" {
		return fmt.Errorf("-artifact %q: want NAME=FILE", v)
	}
	a[name] = file
	return nil
}

type options struct {
	mode, httpAddr, grpcAddr, cpuprofile string
	accessLog                            bool
	models                               modelFlags
	artifacts                            artifactFlags
}

func run(args []string, stdout io.Writer) error {
	o := options{artifacts: artifactFlags{}}
	fs := flag.NewFlagSet("benchserver", flag.ContinueOnError)
	fs.StringVar(&o.mode, "mode", "wasmreg", `"wasmreg" (package serve) or "bare" (the net/http and grpc-go baselines)`)
	fs.StringVar(&o.httpAddr, "http", "127.0.0.1:0", "REST listen address (loopback)")
	fs.StringVar(&o.grpcAddr, "grpc", "127.0.0.1:0", "gRPC listen address (loopback)")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.BoolVar(&o.accessLog, "access-log", false, "log every request to standard error (package serve's access log at info)")
	fs.Var(&o.models, "model", "model to serve (wasmreg mode), repeatable: name=N,file=F[,instances=K][,isolation=model|request][,config=JSON]")
	fs.Var(o.artifacts, "artifact", "artifact NAME=FILE the host grants (wasmreg mode), repeatable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, a := range []string{o.httpAddr, o.grpcAddr} {
		if h, _, err := net.SplitHostPort(a); err != nil || !net.ParseIP(h).IsLoopback() {
			return fmt.Errorf("listen address %q: want a loopback host:port", a)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	var (
		handler  http.Handler
		g        = grpc.NewServer()
		shutdown = func(context.Context) error { return nil }
	)
	switch o.mode {
	case "wasmreg":
		srv, closeAll, err := wasmregServer(ctx, o)
		if err != nil {
			return err
		}
		defer closeAll()
		handler = srv.Handler()
		srv.RegisterGRPC(g)
		shutdown = srv.Shutdown
	case "bare":
		if len(o.models) > 0 || len(o.artifacts) > 0 {
			return errors.New("-model and -artifact are for -mode wasmreg")
		}
		handler = bareHandler{}
		oippb.RegisterGRPCInferenceServiceServer(g, bareGRPC{})
	default:
		return fmt.Errorf("-mode %q: want wasmreg or bare", o.mode)
	}

	hl, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		return fmt.Errorf("listen on -http %s: %w", o.httpAddr, err)
	}
	gl, err := net.Listen("tcp", o.grpcAddr)
	if err != nil {
		hl.Close()
		return fmt.Errorf("listen on -grpc %s: %w", o.grpcAddr, err)
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("-cpuprofile %s: %w", o.cpuprofile, err)
		}
		defer pprof.StopCPUProfile()
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(hl) }()
	go func() { errc <- g.Serve(gl) }()
	fmt.Fprintf(stdout, "ready http=%s grpc=%s gomaxprocs=%d\n", hl.Addr(), gl.Addr(), runtime.GOMAXPROCS(0))

	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = shutdown(sctx)
	_ = hs.Shutdown(sctx)
	g.Stop()
	return nil
}

// wasmregServer loads every -model into a serve.Server, as an embedder
// would. closeAll closes the server, the factories and the host.
func wasmregServer(ctx context.Context, o options) (*serve.Server, func(), error) {
	if len(o.models) == 0 {
		return nil, nil, errors.New("-mode wasmreg needs at least one -model")
	}
	level := slog.LevelWarn
	if o.accessLog {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	hopts := []host.Option{host.WithLogger(logger)} // log is always granted
	if len(o.artifacts) > 0 {
		arts, err := host.ArtifactsFromFiles(o.artifacts)
		if err != nil {
			return nil, nil, fmt.Errorf("-artifact: %w", err)
		}
		hopts = append(hopts, host.WithGrants(host.CapArtifact), host.WithArtifacts(arts))
	}
	h, err := host.New(ctx, hopts...)
	if err != nil {
		return nil, nil, fmt.Errorf("new host: %w", err)
	}
	srv, err := serve.New(serve.WithLogger(logger))
	if err != nil {
		_ = h.Close(ctx)
		return nil, nil, err
	}
	var factories []*host.Factory
	closeAll := func() {
		_ = srv.Close()
		for _, f := range factories {
			_ = f.Close(context.Background())
		}
		_ = h.Close(context.Background())
	}
	byFile := map[string]*host.Factory{} // models of one file share its factory, compiled once
	for _, m := range o.models {
		f := byFile[m.file]
		if f == nil {
			wasm, err := os.ReadFile(m.file)
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("model %q: %w", m.name, err)
			}
			if f, err = h.Load(ctx, wasm); err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("model %q: load %s: %w", m.name, m.file, err)
			}
			factories = append(factories, f)
			byFile[m.file] = f
		}
		spec := serve.ModelSpec{Name: m.name, Factory: f, Config: []byte(m.config),
			Instances: m.instances, Isolation: serve.Isolation(m.isolation)}
		if err := srv.Load(ctx, spec); err != nil {
			closeAll()
			return nil, nil, err
		}
	}
	return srv, closeAll, nil
}

// bareBody is the baselines' fixed 64-byte answer: the REST body, and the
// gRPC response's one BYTES element. The driver serves it as the echo
// model's config, so that wasmreg's echo answers the same bytes.
var bareBody = []byte(`{"model_name":"echo","outputs":[{"name":"output","data":[0.5]}]}`)

// bareHandler is the REST baseline: it reads the request body and answers
// bareBody, whatever the path.
type bareHandler struct{}

func (bareHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(bareBody)
}

// bareGRPC is the gRPC baseline: ModelInfer answers a fixed response, the
// one wasmreg's echo model gives when its config is bareBody.
type bareGRPC struct {
	oippb.UnimplementedGRPCInferenceServiceServer
}

func (bareGRPC) ModelInfer(context.Context, *oippb.ModelInferRequest) (*oippb.ModelInferResponse, error) {
	return &oippb.ModelInferResponse{ModelName: "echo", ModelVersion: "1.0.0",
		Outputs: []*oippb.ModelInferResponse_InferOutputTensor{{Name: "output", Datatype: "BYTES", Shape: []int64{1},
			Contents: &oippb.InferTensorContents{BytesContents: [][]byte{bareBody}}}}}, nil
}
