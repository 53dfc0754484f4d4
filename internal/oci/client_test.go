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
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

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
	require.ErrorIs(t, err, ErrTimeout)
	assert.Less(t, time.Since(start), 10*time.Second)
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
	start := time.Now()
	_, err = c.Pull(context.Background(), mustRef(t, "oci://"+strings.TrimPrefix(srv.URL, "http://")+"/f/s:v1"))
	require.ErrorIs(t, err, ErrUnreachable)
	require.ErrorIs(t, err, ErrTimeout)
	assert.Less(t, time.Since(start), 10*time.Second)
	entries, _ := os.ReadDir(filepath.Join(store.dir, "blobs", "sha256"))
	assert.Empty(t, entries, "nothing partial in the store")
}

// statusServer is a loopback stub that answers every request with status
// and a registry error body, counting the requests.
func statusServer(t *testing.T, status int, header http.Header) (host string, calls *atomic.Int64) {
	t.Helper()
	calls = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"errors":[{"code":"DENIED","message":"stub says no"}]}`))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), calls
}

// closedPort returns a loopback host:port that nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// TestRegistryErrors checks that each way a registry can say no is its
// own sentinel, and that the error names the reference and the registry
// and never the credentials. 401 and 404 come from the real registry;
// distribution 2.8's htpasswd auth lets every user it knows do everything,
// so it cannot answer 403, and a loopback stub does.
func TestRegistryErrors(t *testing.T) {
	ctx := context.Background()
	open := ocitest.Start(t)
	authed := ocitest.StartWithAuth(t)
	c, _ := newTestClient(t)
	_, err := c.Push(ctx, mustRef(t, "oci://"+open.Host+"/f/e:v1"), testWasm, Metadata{})
	require.NoError(t, err)
	forbidden, _ := statusServer(t, http.StatusForbidden, nil)

	const badPassword = "wrong-pw-do-not-show"
	wrong := credentials.NewMemoryStore()
	require.NoError(t, wrong.Put(ctx, authed.Host, auth.Credential{Username: ocitest.User, Password: badPassword}))
	right := credentials.NewMemoryStore()
	require.NoError(t, right.Put(ctx, authed.Host, auth.Credential{Username: ocitest.User, Password: ocitest.Password}))

	tests := []struct {
		name string
		host string
		ref  string
		opts []Option
		push bool
		want error
	}{
		{"401 anonymous pull", authed.Host, "/f/e:v1", nil, false, ErrUnauthorized},
		{"401 anonymous push", authed.Host, "/f/e:v1", nil, true, ErrUnauthorized},
		{"401 wrong password", authed.Host, "/f/e:v1", []Option{WithCredentials(wrong)}, false, ErrUnauthorized},
		{"401 wrong password push", authed.Host, "/f/e:v1", []Option{WithCredentials(wrong)}, true, ErrUnauthorized},
		{"403 pull (stub)", forbidden, "/f/e:v1", nil, false, ErrForbidden},
		{"403 push (stub)", forbidden, "/f/e:v1", nil, true, ErrForbidden},
		{"404 tag", open.Host, "/f/e:v2", nil, false, ErrNotFound},
		{"404 repository", open.Host, "/f/none:v1", nil, false, ErrNotFound},
		{"404 digest", open.Host, "/f/e@" + digest.FromString("no such manifest").String(), nil, false, ErrNotFound},
		{"unreachable pull", closedPort(t), "/f/e:v1", nil, false, ErrUnreachable},
		{"unreachable push", closedPort(t), "/f/e:v1", nil, true, ErrUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, store := newTestClient(t, tc.opts...)
			ref := mustRef(t, "oci://"+tc.host+tc.ref)
			if tc.push {
				_, err = c.Push(ctx, ref, testWasm, Metadata{})
			} else {
				_, err = c.Pull(ctx, ref)
			}
			require.ErrorIs(t, err, tc.want)
			for _, other := range []error{ErrUnauthorized, ErrForbidden, ErrNotFound, ErrUnreachable, ErrUnavailable} {
				if other != tc.want {
					assert.NotErrorIs(t, err, other)
				}
			}
			assert.Contains(t, err.Error(), ref.String())
			assert.Contains(t, err.Error(), "(registry "+tc.host+")")
			assert.NotContains(t, err.Error(), badPassword)
			assert.NotContains(t, err.Error(), ocitest.Password)
			entries, _ := os.ReadDir(filepath.Join(store.dir, "blobs", "sha256"))
			assert.Empty(t, entries, "nothing in the store")
		})
	}
	t.Run("the right password", func(t *testing.T) {
		c, _ := newTestClient(t, WithCredentials(right))
		pushed, err := c.Push(ctx, mustRef(t, "oci://"+authed.Host+"/f/e:v1"), testWasm, Metadata{})
		require.NoError(t, err)
		fresh, _ := newTestClient(t, WithCredentials(right))
		a, err := fresh.Pull(ctx, pushed)
		require.NoError(t, err)
		assert.Equal(t, testWasm, a.Wasm)
	})
}

// TestRetriesBoundedByTimeout checks that 5xx answers are retried with
// back-off, that a registry that keeps failing is ErrUnavailable, and that
// the retries never outlast the timeout.
func TestRetriesBoundedByTimeout(t *testing.T) {
	ctx := context.Background()
	t.Run("retries run out", func(t *testing.T) {
		// oras-go's policy: 5 retries, 200 ms doubling (some 6 s in all).
		host, calls := statusServer(t, http.StatusBadGateway, nil)
		c, _ := newTestClient(t, WithTimeout(20*time.Second))
		_, err := c.Pull(ctx, mustRef(t, "oci://"+host+"/f/r:v1"))
		require.ErrorIs(t, err, ErrUnavailable)
		assert.NotErrorIs(t, err, ErrTimeout)
		assert.Contains(t, err.Error(), "(registry "+host+")")
		assert.Equal(t, int64(6), calls.Load(), "one request and 5 retries")
	})
	t.Run("the timeout cuts the retries short", func(t *testing.T) {
		// A 429 asking for a minute's wait: the timeout still wins.
		host, calls := statusServer(t, http.StatusTooManyRequests, http.Header{"Retry-After": {"60"}})
		c, _ := newTestClient(t, WithTimeout(500*time.Millisecond))
		start := time.Now()
		_, err := c.Pull(ctx, mustRef(t, "oci://"+host+"/f/r:v1"))
		require.ErrorIs(t, err, ErrTimeout)
		require.ErrorIs(t, err, ErrUnreachable)
		assert.Contains(t, err.Error(), "no answer within 500ms")
		assert.Less(t, time.Since(start), 5*time.Second)
		assert.GreaterOrEqual(t, calls.Load(), int64(1))
	})
}
