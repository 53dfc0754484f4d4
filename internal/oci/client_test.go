package oci

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/internal/oci/ocitest"
)

func newTestClient(t *testing.T, opts ...Option) (*Client, *Store) {
	t.Helper()
	s, err := NewStore(t.TempDir())
	require.NoError(t, err)
	c, err := New(s, append([]Option{WithTimeout(10 * time.Second)}, opts...)...)
	require.NoError(t, err)
	return c, s
}

func mustRef(t *testing.T, s string) Reference {
	t.Helper()
	r, err := ParseReference(s)
	require.NoError(t, err)
	return r
}

var testWasm = []byte("\x00asm\x01\x00\x00\x00 not a real module, the caller validates")

func TestPushPullRoundTrip(t *testing.T) {
	reg := ocitest.Start(t)
	ctx := context.Background()
	c, _ := newTestClient(t)
	pushed, err := c.Push(ctx, mustRef(t, "oci://"+reg.Host+"/factories/echo:v1"), testWasm, Metadata{Name: "echo", Version: "1.0.0", ABIVersion: 1})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(pushed.Digest, "sha256:"))

	for _, ref := range []string{"oci://" + reg.Host + "/factories/echo:v1", "oci://" + reg.Host + "/factories/echo@" + pushed.Digest} {
		t.Run(ref, func(t *testing.T) {
			fresh, _ := newTestClient(t) // an empty store: from the registry
			a, err := fresh.Pull(ctx, mustRef(t, ref))
			require.NoError(t, err)
			assert.Equal(t, testWasm, a.Wasm)
			assert.Equal(t, pushed.Digest, a.Ref.Digest)
			assert.Equal(t, digest.FromBytes(testWasm).String(), a.LayerDigest)
			assert.Equal(t, "echo", a.Annotations["org.opencontainers.image.title"])
		})
	}
}

func TestPullTamperedLayer(t *testing.T) {
	reg := ocitest.Start(t)
	ctx := context.Background()
	c, _ := newTestClient(t)
	pushed, err := c.Push(ctx, mustRef(t, "oci://"+reg.Host+"/f/t:v1"), testWasm, Metadata{Name: "t"})
	require.NoError(t, err)
	layer := digest.FromBytes(testWasm)
	data := filepath.Join(reg.Storage, "docker/registry/v2/blobs/sha256", layer.Encoded()[:2], layer.Encoded(), "data")
	evil := []byte("\x00asm\x01\x00\x00\x00 other bytes of the same length!!!!!!!!!")[:len(testWasm)]
	require.NoError(t, os.WriteFile(data, evil, 0o644))

	fresh, store := newTestClient(t)
	_, err = fresh.Pull(ctx, mustRef(t, "oci://"+reg.Host+"/f/t@"+pushed.Digest))
	require.ErrorIs(t, err, ErrDigestMismatch)
	assert.Contains(t, err.Error(), layer.String())
	assert.Contains(t, err.Error(), digest.FromBytes(evil).String())
	_, err = store.Get(digest.Digest(pushed.Digest), maxManifest)
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing of a refused pull is stored")
	_, err = store.Get(layer, 1<<20)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestPullOffline(t *testing.T) {
	reg := ocitest.Start(t)
	ctx := context.Background()
	c, _ := newTestClient(t)
	pushed, err := c.Push(ctx, mustRef(t, "oci://"+reg.Host+"/f/o:v1"), testWasm, Metadata{})
	require.NoError(t, err)
	reg.Stop()

	a, err := c.Pull(ctx, pushed)
	require.NoError(t, err, "a digest in the store needs no registry")
	assert.Equal(t, testWasm, a.Wasm)

	_, err = c.Pull(ctx, mustRef(t, "oci://"+reg.Host+"/f/o:v1"))
	require.ErrorIs(t, err, ErrUnreachable)
	assert.Contains(t, err.Error(), reg.Host)
	assert.Contains(t, err.Error(), "oci://"+reg.Host+"/f/o:v1")
}

func TestPullNotFound(t *testing.T) {
	reg := ocitest.Start(t)
	c, _ := newTestClient(t)
	_, err := c.Pull(context.Background(), mustRef(t, "oci://"+reg.Host+"/f/none:v1"))
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "registry "+reg.Host)
}

func TestPullStall(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Content-Length", "100") // a length, so the client waits for the body
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("{"))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // never ends
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	c, store := newTestClient(t, WithTimeout(time.Second))
	start := time.Now()
	_, err = c.Pull(context.Background(), mustRef(t, "oci://"+l.Addr().String()+"/f/s:v1"))
	require.ErrorIs(t, err, ErrUnreachable)
	assert.Less(t, time.Since(start), 30*time.Second)
	entries, _ := os.ReadDir(filepath.Join(store.dir, "blobs", "sha256"))
	assert.Empty(t, entries, "nothing partial in the store")
}

func TestPullBadManifests(t *testing.T) {
	reg := ocitest.Start(t)
	ctx := context.Background()
	big := make([]byte, 2048)
	c, _ := newTestClient(t, WithMaxLayerSize(1024))
	_, err := c.Push(ctx, mustRef(t, "oci://"+reg.Host+"/f/big:v1"), big, Metadata{})
	require.NoError(t, err)
	_, err = c.Pull(ctx, mustRef(t, "oci://"+reg.Host+"/f/big:v1"))
	require.ErrorIs(t, err, ErrTooLarge)
}

func TestPullRetries5xx(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	_, err := c.Pull(context.Background(), mustRef(t, "oci://"+host+"/f/r:v1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "registry "+host)
	assert.Greater(t, calls.Load(), int64(1), "a 503 is retried")
}

func TestStoreHammer(t *testing.T) {
	s, err := NewStore(t.TempDir())
	require.NoError(t, err)
	blob := []byte("the same blob, written by every goroutine")
	d := digest.FromBytes(blob)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 50 {
				assert.NoError(t, s.Put(d, blob))
				got, err := s.Get(d, 1<<10)
				if assert.NoError(t, err) {
					assert.Equal(t, blob, got)
				}
			}
		})
	}
	wg.Wait()
	require.ErrorIs(t, s.Put(d, []byte("other")), ErrDigestMismatch)
	st, err := os.Stat(s.dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "owner-only")
}

func TestPullLayerStall(t *testing.T) {
	layer := ocispec.Descriptor{MediaType: MediaTypeLayer, Digest: digest.FromString("0123456789"), Size: 10}
	cfg, man, err := encodeArtifact(layer, Metadata{}, time.Now())
	require.NoError(t, err)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodHead:
			w.Header().Set("Content-Length", "10")
		case strings.Contains(r.URL.Path, "/manifests/"):
			w.Header().Set("Content-Type", ocispec.MediaTypeImageManifest)
			w.Write(man)
		case strings.HasSuffix(r.URL.Path, digest.FromBytes(cfg).String()):
			w.Write(cfg)
		default: // the layer: two bytes, then nothing for ever
			w.Write([]byte("01"))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-done:
			}
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) }) // before Close, which waits for handlers
	c, store := newTestClient(t, WithTimeout(time.Second))
	_, err = c.Pull(context.Background(), mustRef(t, "oci://"+strings.TrimPrefix(srv.URL, "http://")+"/f/s:v1"))
	require.ErrorIs(t, err, ErrUnreachable)
	entries, _ := os.ReadDir(filepath.Join(store.dir, "blobs", "sha256"))
	assert.Empty(t, entries, "nothing partial in the store")
}
