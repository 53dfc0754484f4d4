package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/serve"
)

// Names of the flags of `wasmreg serve`.
const (
	flagModels          = "models"
	flagModelName       = "name"
	flagInstances       = "instances"
	flagIsolation       = "isolation"
	flagRESTAddr        = "rest-addr"
	flagGRPCAddr        = "grpc-addr"
	flagTLSCert         = "tls-cert"
	flagTLSKey          = "tls-key"
	flagBodyLimit       = "body-limit"
	flagRequestTimeout  = "request-timeout"
	flagQueue           = "queue"
	flagShutdownTimeout = "shutdown-timeout"
	flagDrainDelay      = "drain-delay"
	flagTokenFile       = "repository-token-file"
	flagTokenEnv        = "repository-token-env"
	flagWatch           = "watch"
)

// Defaults of `wasmreg serve`.
const (
	defaultRESTAddr = "127.0.0.1:8080"
	defaultGRPCAddr = "127.0.0.1:8081"
	// minTokenLength is the shortest repository token accepted (serve's own
	// minimum).
	minTokenLength = 16
	// pollInterval is how often --watch looks at the files models come from.
	pollInterval = time.Second
)

// singleModelFlags are the flags that say how to serve FACTORY; a models
// file says it for each model instead.
var singleModelFlags = []string{flagConfig, flagGrant, flagSHA256, flagModelName, flagInstances, flagIsolation}

// ServeCommand returns the `wasmreg serve` command: serve models over the
// Open Inference Protocol, REST and gRPC, until a terminate signal.
func ServeCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve models over the Open Inference Protocol (KServe v2), REST and gRPC",
		ArgsUsage: "[FACTORY]",
		Description: "Serves FACTORY (a .wasm file, a factory name in --dir, or an oci:// reference, as for run),\n" +
			"built with --config and --grant, under --name (default: the factory's name), or every model of\n" +
			"--models FILE (YAML or JSON; docs/SERVE.md); with neither, the built-in demo (the digits MLP\n" +
			"of wasmreg run) as model digits. REST listens on --rest-addr ($PORT, when set, replaces its\n" +
			"port), gRPC on --grpc-addr (\"off\" for none); both use TLS with --tls-cert and\n" +
			"--tls-key. The addresses listened on are written to standard error; readiness\n" +
			"(/v2/health/ready, /readyz, ServerReady) is false until every model is loaded.\n\n" +
			"SIGHUP, or with --watch (the default) a change of the models file or of a factory's file,\n" +
			"reloads: each changed model is replaced atomically, and a failed reload keeps the old one\n" +
			"serving and logs why. SIGTERM or SIGINT: not ready at once, stop accepting, let requests in\n" +
			"flight finish (up to --shutdown-timeout), close every model, exit 0.\n\n" +
			"The model repository extension (load, unload, index) is off unless --repository-token-file\n" +
			"or --repository-token-env gives its bearer token; it loads factories by name from --dir.\n\n" +
			"Examples:\n" +
			"   wasmreg serve build/factories/scale.wasm --config '{\"factor\":2}'\n" +
			"   wasmreg serve --models models.yaml --rest-addr :8080 --grpc-addr off\n" +
			"   wasmreg serve linear --dir build/factories --config @iris.json --tls-cert cert.pem --tls-key key.pem" + globalNote,
		Flags: slices.Concat(factoryFlagDefs(), []cli.Flag{
			&cli.StringFlag{Name: flagModelName, Usage: "model name served (default: the factory's name)"},
			&cli.IntFlag{Name: flagInstances, Usage: "instances of the model pooled (isolation model)", Value: 1},
			&cli.StringFlag{Name: flagIsolation, Usage: "model: requests share the pooled instances; request: a fresh sandbox per request", Value: string(serve.IsolationModel)},
			&cli.StringFlag{Name: flagModels, Usage: "serve the models of `FILE` (YAML or JSON) instead of FACTORY"},
			&cli.StringFlag{Name: flagRESTAddr, Usage: "address of the REST API; $PORT replaces its port", Value: defaultRESTAddr, EnvVars: []string{"WASMREG_REST_ADDR"}},
			&cli.StringFlag{Name: flagGRPCAddr, Usage: "address of the gRPC API; \"\" or off for none", Value: defaultGRPCAddr, EnvVars: []string{"WASMREG_GRPC_ADDR"}},
			&cli.StringFlag{Name: flagTLSCert, Usage: "serve both APIs over TLS with the certificate chain of this PEM `FILE` (with --tls-key)"},
			&cli.StringFlag{Name: flagTLSKey, Usage: "the private key of --tls-cert, a PEM `FILE`"},
			&cli.StringFlag{Name: flagBodyLimit, Usage: "largest request body (REST) or message (gRPC), such as 16MiB", Value: "16MiB"},
			&cli.DurationFlag{Name: flagRequestTimeout, Usage: "longest inference request; a client's shorter deadline wins", Value: 30 * time.Second},
			&cli.IntFlag{Name: flagConcurrency, Usage: "inference requests one model runs at once", Value: 64},
			&cli.IntFlag{Name: flagQueue, Usage: "requests that may wait for a model beyond --concurrency; more get 429", Value: 256},
			&cli.DurationFlag{Name: flagShutdownTimeout, Usage: "longest wait for requests in flight at a terminate signal", Value: 30 * time.Second},
			&cli.DurationFlag{Name: flagDrainDelay, Usage: "after a terminate signal, keep accepting requests this long while reporting not ready, so that load balancers stop sending first"},
			&cli.StringFlag{Name: flagTokenFile, Usage: "enable the model repository extension with the bearer token in `FILE` (at least 16 bytes)"},
			&cli.StringFlag{Name: flagTokenEnv, Usage: "enable the model repository extension with the bearer token in the environment variable `VAR`"},
			&cli.BoolFlag{Name: flagWatch, Usage: "reload when the models file or a factory's file changes (checked every second)", Value: true},
		}, limitFlags()),
		Action:          serveAction,
		OnUsageError:    onUsageError,
		HideHelpCommand: true,
	}
}

// serveOptions are the checked flags of the server itself.
type serveOptions struct {
	restAddr, grpcAddr string // grpcAddr "" for none
	tls                *tls.Config
	opts               []serve.Option
	shutdownTimeout    time.Duration
	drainDelay         time.Duration
	token              string // "" without the repository extension
}

func serveAction(cCtx *cli.Context) error {
	models := cCtx.String(flagModels)
	switch {
	case cCtx.NArg() > 1:
		return usageErrorf("serve takes one FACTORY argument, got %d: %s (see 'wasmreg serve --help')", cCtx.NArg(), strings.Join(cCtx.Args().Slice(), " "))
	case cCtx.NArg() == 1 && cCtx.IsSet(flagModels):
		return usageErrorf("serve takes a FACTORY argument or --%s, not both", flagModels)
	case cCtx.IsSet(flagModels) && models == "":
		return usageErrorf("--%s: empty file name", flagModels)
	}
	if cCtx.IsSet(flagModels) {
		for _, f := range singleModelFlags {
			if cCtx.IsSet(f) {
				return usageErrorf("--%s is for a FACTORY argument; with --%s, set it for each model in the file", f, flagModels)
			}
		}
	}
	// From the start, so that a SIGHUP while the models load reloads
	// once they are loaded rather than ending the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := checkLimitFlags(cCtx); err != nil {
		return err
	}
	so, err := readServeOptions(cCtx)
	if err != nil {
		return err
	}
	logger, err := newLogger(cCtx, cCtx.App.ErrWriter)
	if err != nil {
		return err
	}
	mgr := &modelManager{cCtx: cCtx, logger: logger, models: models, hosts: map[*host.Factory]*host.Host{}, current: map[string]*servedModel{}}
	entries, err := mgr.desired()
	if err != nil {
		return err
	}

	opts := append(so.opts, serve.WithLogger(logger), serve.WithRelease(mgr.release),
		serve.WithReadyCheck(func() bool { return mgr.loaded.Load() && !mgr.draining.Load() }))
	if so.token != "" {
		opts = append(opts, serve.WithRepository(so.token, mgr.resolve))
	}
	srv, err := serve.New(opts...)
	if err != nil {
		return usageError{err}
	}
	mgr.srv = srv
	defer mgr.closeAll()

	l, err := listen(cCtx, so, srv, logger)
	if err != nil {
		_ = srv.Close()
		return err
	}
	fmt.Fprintf(cCtx.App.ErrWriter, "wasmreg: listening rest=%s grpc=%s tls=%t\n", l.restAddr(), l.grpcAddr(), so.tls != nil)

	if err := mgr.loadAll(entries); err != nil {
		mgr.quiet = true
		mgr.shutdown(l, serveOptions{shutdownTimeout: time.Second}) // nothing was ready to be sent requests
		return err
	}
	mgr.loaded.Store(true)
	fmt.Fprintf(cCtx.App.ErrWriter, "wasmreg: ready: serving %s\n", strings.Join(srv.Models(), ", "))

	var tick <-chan time.Time
	if cCtx.Bool(flagWatch) {
		t := time.NewTicker(pollInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-cCtx.Context.Done():
			mgr.shutdown(l, so)
			return nil
		case err := <-l.failed:
			mgr.shutdown(l, so)
			return err
		case <-hup:
			mgr.reload("SIGHUP")
		case <-tick:
			if what := mgr.changed(); what != "" {
				mgr.reload(what + " changed")
			}
		}
	}
}

// readServeOptions checks the server's flags.
func readServeOptions(cCtx *cli.Context) (serveOptions, error) {
	var so serveOptions
	so.restAddr = cCtx.String(flagRESTAddr)
	if port := os.Getenv("PORT"); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 0 || n > 65535 {
			return so, usageErrorf("$PORT %q is not a port number (0-65535)", port)
		}
		h, _, err := net.SplitHostPort(so.restAddr)
		if err != nil {
			return so, usageErrorf("--%s %q: %v", flagRESTAddr, so.restAddr, err)
		}
		so.restAddr = net.JoinHostPort(h, port)
	}
	if _, _, err := net.SplitHostPort(so.restAddr); err != nil {
		return so, usageErrorf("--%s %q: %v", flagRESTAddr, so.restAddr, err)
	}
	switch g := cCtx.String(flagGRPCAddr); strings.ToLower(g) {
	case "", "off":
	default:
		if _, _, err := net.SplitHostPort(g); err != nil {
			return so, usageErrorf("--%s %q: %v (or off for no gRPC)", flagGRPCAddr, g, err)
		}
		so.grpcAddr = g
	}
	cert, key := cCtx.String(flagTLSCert), cCtx.String(flagTLSKey)
	switch {
	case (cert == "") != (key == ""):
		return so, usageErrorf("--%s and --%s go together", flagTLSCert, flagTLSKey)
	case cert != "":
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return so, fmt.Errorf("--%s %s, --%s %s: %w", flagTLSCert, cert, flagTLSKey, key, err)
		}
		so.tls = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	body, err := ParseSize(cCtx.String(flagBodyLimit))
	if err != nil || body == 0 || body > 1<<40 {
		return so, usageErrorf("--%s %q: want a size such as 16MiB, at least 1 byte", flagBodyLimit, cCtx.String(flagBodyLimit))
	}
	if d := cCtx.Duration(flagRequestTimeout); d <= 0 {
		return so, usageErrorf("--%s %v: want a positive duration such as 30s", flagRequestTimeout, d)
	}
	if n := cCtx.Int(flagConcurrency); n < 1 {
		return so, usageErrorf("--%s %d: want at least 1", flagConcurrency, n)
	}
	if n := cCtx.Int(flagQueue); n < 0 {
		return so, usageErrorf("--%s %d: want 0 or more", flagQueue, n)
	}
	so.shutdownTimeout = cCtx.Duration(flagShutdownTimeout)
	if so.shutdownTimeout < 0 {
		return so, usageErrorf("--%s %v: want 0 or more", flagShutdownTimeout, so.shutdownTimeout)
	}
	so.drainDelay = cCtx.Duration(flagDrainDelay)
	if so.drainDelay < 0 {
		return so, usageErrorf("--%s %v: want 0 or more", flagDrainDelay, so.drainDelay)
	}
	so.opts = []serve.Option{
		serve.WithBodyLimit(int64(body)),
		serve.WithRequestTimeout(cCtx.Duration(flagRequestTimeout)),
		serve.WithConcurrency(cCtx.Int(flagConcurrency), cCtx.Int(flagQueue)),
	}
	so.token, err = readToken(cCtx)
	return so, err
}

// readToken returns the repository token of --repository-token-file or
// --repository-token-env, or "" without either.
func readToken(cCtx *cli.Context) (string, error) {
	file, env := cCtx.String(flagTokenFile), cCtx.String(flagTokenEnv)
	var tok, what string
	switch {
	case cCtx.IsSet(flagTokenFile) && cCtx.IsSet(flagTokenEnv):
		return "", usageErrorf("--%s and --%s: give one", flagTokenFile, flagTokenEnv)
	case cCtx.IsSet(flagTokenFile):
		what = "--" + flagTokenFile + " " + file
		st, err := os.Stat(file)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		if !st.Mode().IsRegular() {
			return "", fmt.Errorf("%s: not a regular file", what)
		}
		if st.Size() > 4096 {
			return "", fmt.Errorf("%s: %d bytes, too large for a token", what, st.Size())
		}
		if st.Mode().Perm()&0o077 != 0 {
			warnf(cCtx.App.ErrWriter, "%s is readable or writable by group or others (mode %v); chmod 600 it", what, st.Mode().Perm())
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		tok = strings.TrimSpace(string(b))
	case cCtx.IsSet(flagTokenEnv):
		what = "--" + flagTokenEnv + " " + env
		if env == "" {
			return "", usageErrorf("--%s: empty variable name", flagTokenEnv)
		}
		tok = strings.TrimSpace(os.Getenv(env))
	default:
		return "", nil
	}
	switch {
	case tok == "":
		return "", usageErrorf("%s: the token is empty", what)
	case len(tok) < minTokenLength:
		return "", usageErrorf("%s: the token is %d bytes, want at least %d", what, len(tok), minTokenLength)
	case strings.ContainsAny(tok, " \t\r\n"):
		return "", usageErrorf("%s: the token holds white space", what)
	}
	return tok, nil
}

// listeners are the running REST and gRPC servers.
type listeners struct {
	rest     *http.Server
	restLn   net.Listener
	grpc     *grpc.Server // nil without gRPC
	grpcLn   net.Listener
	failed   chan error // a server that stopped by itself
	serveErr sync.WaitGroup
}

func (l *listeners) restAddr() string { return l.restLn.Addr().String() }

func (l *listeners) grpcAddr() string {
	if l.grpcLn == nil {
		return "off"
	}
	return l.grpcLn.Addr().String()
}

// listen listens on both addresses and serves srv there.
func listen(cCtx *cli.Context, so serveOptions, srv *serve.Server, logger *slog.Logger) (*listeners, error) {
	var lc net.ListenConfig
	restLn, err := lc.Listen(cCtx.Context, "tcp", so.restAddr)
	if err != nil {
		return nil, fmt.Errorf("--%s %s: %w", flagRESTAddr, so.restAddr, err)
	}
	l := &listeners{restLn: restLn, failed: make(chan error, 2)}
	if so.grpcAddr != "" {
		if l.grpcLn, err = lc.Listen(cCtx.Context, "tcp", so.grpcAddr); err != nil {
			restLn.Close()
			return nil, fmt.Errorf("--%s %s: %w", flagGRPCAddr, so.grpcAddr, err)
		}
	}
	body, _ := ParseSize(cCtx.String(flagBodyLimit)) // checked by readServeOptions
	l.rest = &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         so.tls,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	l.serveErr.Go(func() {
		var err error
		if so.tls != nil {
			err = l.rest.ServeTLS(restLn, "", "")
		} else {
			err = l.rest.Serve(restLn)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			l.failed <- fmt.Errorf("REST server on %s: %w", restLn.Addr(), err)
		}
	})
	if l.grpcLn != nil {
		gopts := []grpc.ServerOption{grpc.MaxRecvMsgSize(int(min(body, 1<<31-1)))}
		if so.tls != nil {
			gopts = append(gopts, grpc.Creds(credentials.NewTLS(so.tls.Clone())))
		}
		l.grpc = grpc.NewServer(gopts...)
		srv.RegisterGRPC(l.grpc)
		srv.RegisterGRPCHealth(l.grpc)
		serve.RegisterGRPCReflection(l.grpc)
		l.serveErr.Go(func() {
			if err := l.grpc.Serve(l.grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				l.failed <- fmt.Errorf("gRPC server on %s: %w", l.grpcLn.Addr(), err)
			}
		})
	}
	return l, nil
}

// shutdown stops serving: not ready at once, still accepting for the
// drain delay, then both servers stop accepting and wait for their
// requests up to the shutdown timeout, then every model is closed and its
// factory released.
func (m *modelManager) shutdown(l *listeners, so serveOptions) {
	m.draining.Store(true)
	if so.drainDelay > 0 {
		time.Sleep(so.drainDelay)
	}
	timeout := so.shutdownTimeout
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := l.rest.Shutdown(ctx); err != nil {
			m.logger.Warn("REST requests still running at the shutdown timeout; closing them", "timeout", timeout, "error", err)
			_ = l.rest.Close()
		}
	})
	if l.grpc != nil {
		wg.Go(func() {
			done := make(chan struct{})
			go func() { l.grpc.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				m.logger.Warn("gRPC calls still running at the shutdown timeout; closing them", "timeout", timeout)
				l.grpc.Stop()
				<-done
			}
		})
	}
	wg.Wait()
	l.serveErr.Wait()
	if err := m.srv.Shutdown(ctx); err != nil {
		m.logger.Warn("models closed before their requests finished", "error", err)
	}
	if !m.quiet {
		fmt.Fprintf(m.cCtx.App.ErrWriter, "wasmreg: shut down\n")
	}
}

// errUnchanged says that a model's entry and module are what is served.
var errUnchanged = errors.New("unchanged")
