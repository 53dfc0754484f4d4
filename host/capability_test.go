package host_test

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/di"
	"github.com/wasmreg/wasmreg/host"
)

func predict(t *testing.T, m interface {
	Predict(context.Context, []byte) ([]byte, error)
}, req string) []byte {
	t.Helper()
	out, err := m.Predict(context.Background(), []byte(req))
	require.NoError(t, err)
	return out
}

func TestRandomCapability(t *testing.T) {
	ctx := context.Background()
	// The stream docs/ABI.md defines, built here from its words rather
	// than from host's code: ChaCha8 keyed by the seed as 8 little-endian
	// bytes and 24 zero bytes.
	chacha := func(seed uint64) []byte {
		var key [32]byte
		binary.LittleEndian.PutUint64(key[:8], seed)
		b := make([]byte, 16)
		_, _ = rand.NewChaCha8(key).Read(b)
		return b
	}

	t.Run("crypto seeded by default", func(t *testing.T) {
		h, _ := newHost(t, allCaps)
		m, err := load(t, h, "guest.wasm").Build(ctx, nil)
		require.NoError(t, err)
		a, b := predict(t, m, "r"), predict(t, m, "r")
		assert.Len(t, a, 16)
		assert.NotEqual(t, a, b, "every call has a fresh stream")
	})
	t.Run("random_seed makes the stream a function of the seed", func(t *testing.T) {
		h, _ := newHost(t, allCaps)
		f := load(t, h, "guest.wasm")
		m1, err := f.Build(ctx, []byte(`"Seed"`))
		require.NoError(t, err)
		m2, err := f.Build(ctx, []byte(`"Seed"`))
		require.NoError(t, err)
		assert.Equal(t, chacha(42), predict(t, m1, "S"), "same config and seed, same model")
		assert.Equal(t, predict(t, m1, "S"), predict(t, m2, "S"))
		assert.Equal(t, chacha(7), predict(t, m1, "s"))
		assert.NotEqual(t, chacha(7), predict(t, m1, "r"), "a seed lasts one call")
	})
	t.Run("host seed", func(t *testing.T) {
		h, _ := newHost(t, allCaps, host.WithRandomSeed(99))
		m, err := load(t, h, "guest.wasm").Build(ctx, nil)
		require.NoError(t, err)
		assert.Equal(t, chacha(99), predict(t, m, "r"))
		assert.Equal(t, chacha(99), predict(t, m, "r"), "each call starts from the host's seed")
	})
}

func TestClockCapability(t *testing.T) {
	h, _ := newHost(t, allCaps)
	m, err := load(t, h, "guest.wasm").Build(context.Background(), nil)
	require.NoError(t, err)
	before := time.Now().UnixNano()
	now := int64(binary.LittleEndian.Uint64(predict(t, m, "k")))
	after := time.Now().UnixNano()
	assert.True(t, before <= now && now <= after, "clock_now %d not in [%d, %d]", now, before, after)
	m1 := int64(binary.LittleEndian.Uint64(predict(t, m, "m")))
	m2 := int64(binary.LittleEndian.Uint64(predict(t, m, "m")))
	assert.GreaterOrEqual(t, m2, m1)
}

func TestArtifactCapability(t *testing.T) {
	ctx := context.Background()
	t.Run("granted artifact", func(t *testing.T) {
		weights := make([]byte, 70000)
		for i := range weights {
			weights[i] = byte(i * 7)
		}
		h, _ := newHost(t, allCaps, host.WithArtifacts(host.ArtifactMap{"weights": weights}))
		m, err := load(t, h, "guest.wasm").Build(ctx, nil)
		require.NoError(t, err)
		assert.Equal(t, weights[:65536], predict(t, m, "a"), "the guest reads at most 64 KiB")
	})
	t.Run("missing artifact", func(t *testing.T) {
		h, _ := newHost(t, allCaps)
		m, err := load(t, h, "guest.wasm").Build(ctx, nil)
		require.NoError(t, err)
		_, err = m.Predict(ctx, []byte("a"))
		assert.ErrorIs(t, err, host.ErrGuest)
		assert.ErrorContains(t, err, "returned code 4: no artifact")
	})
	t.Run("from files", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(dir+"/w.bin", []byte("abc"), 0o600))
		a, err := host.ArtifactsFromFiles(map[string]string{"weights": dir + "/w.bin"})
		require.NoError(t, err)
		assert.Equal(t, []string{"weights"}, a.Names())
		_, err = host.ArtifactsFromFiles(map[string]string{"weights": dir + "/missing"})
		assert.ErrorContains(t, err, `artifact "weights"`)
	})
}

// countingClock is a request-scoped Clock that counts its creations and
// disposals, to show that every call is its own request scope.
type countingClock struct {
	host.SystemClock
	closed *atomic.Int64
}

func (c *countingClock) Close(context.Context) error {
	c.closed.Add(1)
	return nil
}

func TestEveryCallIsARequestScope(t *testing.T) {
	var created, closed atomic.Int64
	c := di.New()
	require.NoError(t, di.Provide(c, di.Request, func(context.Context) (host.Clock, error) {
		created.Add(1)
		return &countingClock{closed: &closed}, nil
	}))
	h, _ := newHost(t, allCaps, host.WithContainer(c))
	m, err := load(t, h, "guest.wasm").Build(context.Background(), nil)
	require.NoError(t, err)
	assert.Zero(t, created.Load(), "the clock is made only when a guest asks for it")
	predict(t, m, "k")
	predict(t, m, "k")
	predict(t, m, "m")
	assert.Equal(t, int64(3), created.Load(), "one clock per prediction")
	assert.Equal(t, int64(3), closed.Load(), "each disposed when its prediction ended")
}
