package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// Errors of registry operations; each is wrapped with the reference and
// the registry.
var (
	ErrUnauthorized = errors.New("oci: unauthorized (401): log in with 'docker login' or 'oras login'")
	ErrForbidden    = errors.New("oci: forbidden (403)")
	ErrNotFound     = errors.New("oci: not found (404)")
	ErrUnreachable  = errors.New("oci: registry unreachable")
	// ErrUnavailable is a registry that kept answering 5xx or 429 after
	// the retries with back-off.
	ErrUnavailable = errors.New("oci: registry unavailable (5xx or 429, retried with back-off)")
	// ErrTimeout is a push or pull that did not end within the client's
	// timeout (WithTimeout), retries included. It comes with
	// ErrUnreachable, so that a stalled registry is both.
	ErrTimeout = errors.New("oci: registry timeout")
	ErrOffline = errors.New("oci: not in the local store, and the registry cannot be asked")
)

// Option configures a Client; options are validated when applied, by
// New. An Option is a value, safe for concurrent use.
type Option func(*config) error

type config struct {
	plainHTTP bool
	creds     credentials.Store
	timeout   time.Duration
	maxLayer  int64
	offline   bool
}

// WithPlainHTTP talks plain HTTP to every registry, not only to loopback
// ones.
func WithPlainHTTP(on bool) Option { return func(c *config) error { c.plainHTTP = on; return nil } }

// WithCredentials resolves credentials from s (for instance
// credentials.NewStoreFromDocker). Without it, requests are anonymous.
func WithCredentials(s credentials.Store) Option {
	return func(c *config) error { c.creds = s; return nil }
}

// DefaultTimeout bounds each Push or Pull of a Client made without
// WithTimeout.
const DefaultTimeout = time.Minute

// WithTimeout bounds each Push or Pull, every request, response and
// retry of it included (default DefaultTimeout).
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("oci: WithTimeout(%v): must be positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithMaxLayerSize refuses a module layer over n bytes before fetching it.
func WithMaxLayerSize(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("oci: WithMaxLayerSize(%d): must be positive", n)
		}
		c.maxLayer = n
		return nil
	}
}

// WithOffline never asks a registry: only what the store has is found.
func WithOffline(on bool) Option { return func(c *config) error { c.offline = on; return nil } }

// Client pushes and pulls factory modules. It is safe for concurrent use
// by multiple goroutines.
type Client struct {
	cfg   config
	store *Store
	http  *http.Client
}

// New returns a client that keeps what it pulls in store. It is safe for
// concurrent use.
func New(store *Store, opts ...Option) (*Client, error) {
	if store == nil {
		return nil, errors.New("oci: New: nil store")
	}
	c := config{timeout: DefaultTimeout, maxLayer: 64 << 20}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.ResponseHeaderTimeout = min(30*time.Second, c.timeout)
	return &Client{cfg: c, store: store, http: &http.Client{Transport: retry.NewTransport(base)}}, nil
}

// Artifact is a pulled module. It is a plain value: safe for concurrent
// reads, and its Wasm is the caller's own copy.
type Artifact struct {
	Ref         Reference // pinned to the manifest digest
	Wasm        []byte
	LayerDigest string // sha256:… of Wasm: the module's sha256
	Annotations map[string]string
}

func (c *Client) repo(ref Reference) (*remote.Repository, error) {
	r, err := remote.NewRepository(ref.Registry + "/" + ref.Repository)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrReference, ref, err)
	}
	r.PlainHTTP = c.cfg.plainHTTP || isLoopback(ref.Registry)
	r.SkipReferrersGC = true
	ac := &auth.Client{Client: c.http, Cache: auth.NewCache()}
	ac.SetUserAgent("wasmreg")
	if c.cfg.creds != nil {
		ac.Credential = credentials.Credential(c.cfg.creds)
	}
	r.Client = ac
	return r, nil
}

// classify wraps a registry error with the sentinel for its kind, naming
// the reference and the registry. Credentials never appear: oras-go's
// errors carry URLs without them.
func (c *Client) classify(err error, op string, ref Reference) error {
	var resp *errcode.ErrorResponse
	status := 0
	if errors.As(err, &resp) {
		status = resp.StatusCode
	}
	var ne net.Error
	switch {
	case status == http.StatusUnauthorized, errors.Is(err, auth.ErrBasicCredentialNotFound):
		return fmt.Errorf("%s %s (registry %s): %w: %w", op, ref, ref.Registry, ErrUnauthorized, err)
	case status == http.StatusForbidden:
		return fmt.Errorf("%s %s (registry %s): %w: %w", op, ref, ref.Registry, ErrForbidden, err)
	case status == http.StatusNotFound, errors.Is(err, errdef.ErrNotFound):
		return fmt.Errorf("%s %s (registry %s): %w: %w", op, ref, ref.Registry, ErrNotFound, err)
	case status >= 500 || status == http.StatusTooManyRequests:
		return fmt.Errorf("%s %s (registry %s): %w: %w", op, ref, ref.Registry, ErrUnavailable, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s %s (registry %s): %w: %w: no answer within %v: %w", op, ref, ref.Registry, ErrUnreachable, ErrTimeout, c.cfg.timeout, err)
	case errors.As(err, &ne), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s %s (registry %s): %w: %w", op, ref, ref.Registry, ErrUnreachable, err)
	}
	return fmt.Errorf("%s %s (registry %s): %w", op, ref, ref.Registry, err)
}

// Push uploads wasm (validated by the caller) as a CNCF Wasm artifact
// under ref's tag, and returns ref pinned to the manifest's digest.
func (c *Client) Push(ctx context.Context, ref Reference, wasm []byte, meta Metadata) (Reference, error) {
	if ref.Tag == "" || ref.Digest != "" {
		return Reference{}, fmt.Errorf("%w %s: push needs a tag and no digest", ErrReference, ref)
	}
	if c.cfg.offline {
		return Reference{}, fmt.Errorf("push %s: %w", ref, ErrOffline)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	repo, err := c.repo(ref)
	if err != nil {
		return Reference{}, err
	}
	layer := ocispec.Descriptor{MediaType: MediaTypeLayer, Digest: digest.FromBytes(wasm), Size: int64(len(wasm))}
	cfg, man, err := encodeArtifact(layer, meta, time.Now())
	if err != nil {
		return Reference{}, err
	}
	cfgDesc := ocispec.Descriptor{MediaType: MediaTypeConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))}
	manDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(man), Size: int64(len(man))}
	for _, b := range []struct {
		d ocispec.Descriptor
		p []byte
	}{{layer, wasm}, {cfgDesc, cfg}} {
		if err := repo.Push(ctx, b.d, bytes.NewReader(b.p)); err != nil {
			return Reference{}, c.classify(err, "push", ref)
		}
	}
	if err := repo.PushReference(ctx, manDesc, bytes.NewReader(man), ref.Tag); err != nil {
		return Reference{}, c.classify(err, "push", ref)
	}
	// What was pushed is what a pull by digest reads, offline too.
	for d, b := range map[digest.Digest][]byte{layer.Digest: wasm, cfgDesc.Digest: cfg, manDesc.Digest: man} {
		if err := c.store.Put(d, b); err != nil {
			return Reference{}, err
		}
	}
	return ref.WithDigest(manDesc.Digest.String()), nil
}

// Pull returns the module ref names. A reference by digest is read from
// the store if it has the manifest and layer, and the registry is never
// asked; a tag is resolved by the registry, once. Everything fetched is
// verified against its digest (the manifest against the reference's, the
// layer against the manifest's) before it is stored or returned, so a
// registry that hands back other bytes is refused with ErrDigestMismatch
// naming both digests, and nothing of it is stored.
func (c *Client) Pull(ctx context.Context, ref Reference) (Artifact, error) {
	if ref.Digest != "" {
		if a, err := c.fromStore(ref); err == nil {
			return a, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return Artifact{}, fmt.Errorf("pull %s: %w", ref, err)
		}
	}
	if c.cfg.offline {
		return Artifact{}, fmt.Errorf("pull %s: %w", ref, ErrOffline)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	repo, err := c.repo(ref)
	if err != nil {
		return Artifact{}, err
	}
	want := ref.Digest
	if want == "" {
		want = ref.Tag
	}
	desc, rc, err := repo.FetchReference(ctx, want)
	if err != nil {
		return Artifact{}, c.classify(err, "pull", ref)
	}
	wantMan := desc.Digest
	if ref.Digest != "" {
		wantMan = digest.Digest(ref.Digest)
	}
	man, err := readVerified(rc, wantMan, maxManifest)
	rc.Close()
	if err != nil {
		return Artifact{}, c.fetchErr(err, "manifest", ref)
	}
	m, err := decodeManifest(man, c.cfg.maxLayer)
	if err != nil {
		return Artifact{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	cfg, err := c.fetchBlob(ctx, repo, m.Config, maxManifest)
	if err != nil {
		return Artifact{}, c.fetchErr(err, "config", ref)
	}
	if err := decodeConfig(cfg, m.Layers[0].Digest); err != nil {
		return Artifact{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	wasm, err := c.fetchBlob(ctx, repo, m.Layers[0], c.cfg.maxLayer)
	if err != nil {
		return Artifact{}, c.fetchErr(err, "layer", ref)
	}
	// Verified all: store the layer and config first, the manifest last,
	// so the store never has a manifest whose layer it lacks.
	for _, b := range []struct {
		d digest.Digest
		p []byte
	}{{m.Layers[0].Digest, wasm}, {m.Config.Digest, cfg}, {wantMan, man}} {
		if err := c.store.Put(b.d, b.p); err != nil {
			return Artifact{}, err
		}
	}
	return Artifact{Ref: ref.WithDigest(wantMan.String()), Wasm: wasm, LayerDigest: m.Layers[0].Digest.String(), Annotations: m.Annotations}, nil
}

func (c *Client) fetchErr(err error, what string, ref Reference) error {
	if errors.Is(err, ErrDigestMismatch) || errors.Is(err, ErrTooLarge) {
		return fmt.Errorf("pull %s: %s: %w", ref, what, err)
	}
	return c.classify(err, "pull "+what+" of", ref)
}

// fetchBlob fetches the blob d, reading at most limit bytes. The blob is
// fetched by digest, not by descriptor, so that a registry that sends
// another length is refused with both digests named, like one that sends
// other bytes of the same length.
func (c *Client) fetchBlob(ctx context.Context, repo *remote.Repository, d ocispec.Descriptor, limit int64) ([]byte, error) {
	got, rc, err := repo.Blobs().FetchReference(ctx, d.Digest.String())
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if got.Size > limit {
		return nil, fmt.Errorf("%w: blob %s is %d bytes, over %d", ErrTooLarge, d.Digest, got.Size, limit)
	}
	return readVerified(rc, d.Digest, limit)
}

// fromStore reads a pull by digest from the store; fs.ErrNotExist if it
// lacks any part.
func (c *Client) fromStore(ref Reference) (Artifact, error) {
	d := digest.Digest(ref.Digest)
	man, err := c.store.Get(d, maxManifest)
	if err != nil {
		return Artifact{}, err
	}
	m, err := decodeManifest(man, c.cfg.maxLayer)
	if err != nil {
		return Artifact{}, err
	}
	wasm, err := c.store.Get(m.Layers[0].Digest, m.Layers[0].Size)
	if err != nil {
		return Artifact{}, err
	}
	return Artifact{Ref: ref, Wasm: wasm, LayerDigest: m.Layers[0].Digest.String(), Annotations: m.Annotations}, nil
}
