package host

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"time"
)

// Clock is the clock capability. The host resolves it from the request
// scope of each call, so a container may provide it with any lifetime.
// Implementations must be safe for concurrent use if provided as a
// singleton.
type Clock interface {
	// Now is the wall-clock time.
	Now() time.Time
	// Monotonic is the time since a fixed origin; it never decreases.
	Monotonic() time.Duration
}

// SystemClock is the default [Clock]: the machine's clock. It is safe for
// concurrent use.
type SystemClock struct{ origin time.Time }

// NewSystemClock returns a SystemClock whose monotonic origin is now.
func NewSystemClock() *SystemClock { return &SystemClock{origin: time.Now()} }

// Now implements [Clock].
func (c *SystemClock) Now() time.Time { return time.Now() }

// Monotonic implements [Clock].
func (c *SystemClock) Monotonic() time.Duration { return time.Since(c.origin) }

// Random is the random capability's stream for one request. The host
// provides it with the Request lifetime by default, so every guest call has
// its own stream and a guest's random_seed affects only its own call. A
// Random is used by one call at a time and need not be safe for concurrent
// use.
type Random interface {
	// Seed restarts the stream from seed, as docs/ABI.md specifies.
	Seed(seed uint64)
	// Fill fills p with the next bytes of the stream.
	Fill(p []byte)
}

// ChaCha8Random is the default [Random]: ChaCha8 from math/rand/v2, keyed
// by the seed as 8 little-endian bytes and 24 zero bytes. It is not safe for
// concurrent use.
type ChaCha8Random struct{ c *rand.ChaCha8 }

// NewChaCha8Random returns a stream seeded with seed.
func NewChaCha8Random(seed uint64) *ChaCha8Random {
	r := &ChaCha8Random{}
	r.Seed(seed)
	return r
}

// NewCryptoRandom returns a stream seeded from crypto/rand.
func NewCryptoRandom() *ChaCha8Random {
	var key [32]byte
	_, _ = crand.Read(key[:]) // never fails since Go 1.24
	return &ChaCha8Random{c: rand.NewChaCha8(key)}
}

// Seed implements [Random].
func (r *ChaCha8Random) Seed(seed uint64) {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:8], seed)
	r.c = rand.NewChaCha8(key)
}

// Fill implements [Random].
func (r *ChaCha8Random) Fill(p []byte) { _, _ = r.c.Read(p) }

// ErrNoArtifact is returned by [Artifacts] for a name it does not have.
var ErrNoArtifact = errors.New("host: no such artifact")

// Artifacts is the artifact capability: read-only named blobs, such as
// model weights. Implementations must be safe for concurrent use, and must
// not let callers change what they return.
type Artifacts interface {
	// Artifact returns the contents of the named artifact, or an error
	// wrapping [ErrNoArtifact]. The caller must not modify the slice.
	Artifact(ctx context.Context, name string) ([]byte, error)
}

// ArtifactMap is an [Artifacts] held in memory. It is safe for concurrent
// use as long as nobody changes the map or its slices.
type ArtifactMap map[string][]byte

// Artifact implements [Artifacts].
func (m ArtifactMap) Artifact(_ context.Context, name string) ([]byte, error) {
	b, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoArtifact, name)
	}
	return b, nil
}

// Names returns the artifact names, sorted.
func (m ArtifactMap) Names() []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ArtifactsFromFiles reads the files named by files (artifact name → path)
// into an ArtifactMap.
func ArtifactsFromFiles(files map[string]string) (ArtifactMap, error) {
	m := make(ArtifactMap, len(files))
	for name, path := range files {
		if name == "" {
			return nil, fmt.Errorf("host: artifact file %q: empty artifact name", path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("host: artifact %q: %w", name, err)
		}
		m[name] = b
	}
	return m, nil
}
