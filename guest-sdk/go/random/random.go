// Package random draws random numbers from the wasmreg host's random
// capability (docs/ABI.md §4.2). A factory that uses it needs the "random"
// grant (the CLI: --grant random) and should list "random" in its
// [wasmreg.Info.Capabilities]; one that never calls it does not import it.
//
// Every build and every prediction has its own stream, seeded by the host
// (a build's stream covers the instance's _initialize, so package init
// functions, and wasmreg_build). After [Seed], the stream is a pure function
// of the seed until that build or prediction ends, on every host and
// platform: ChaCha8 as in Go's math/rand/v2, so Seed(s) followed by
// [Uint64], [Float64] and [NormFloat64] returns what
// rand.New(rand.NewChaCha8(key)) would, with key the seed's 8 little-endian
// bytes and 24 zero bytes (docs/ABI.md §4.2). The next build or prediction
// starts from a fresh host seed again, so a factory that must be
// reproducible seeds in every call that draws, for example from a seed in
// its config.
//
// Use this package rather than crypto/rand or the top-level functions of
// math/rand: those read, or are seeded from, WASI's random_get, which gives
// zero bytes when the host has not granted "random".
//
// Outside a wasmreg host (GOOS other than wasip1) the same ChaCha8 stream
// is kept in the process, seeded from crypto/rand until Seed is called, so
// that factory logic can be tested natively. Like the guest instance, the
// package is single-threaded: it is not safe for concurrent use.
//
// [wasmreg.Info.Capabilities]: https://pkg.go.dev/github.com/wasmreg/wasmreg/guest-sdk/go#Info
package random

import (
	"encoding/binary"
	"math/rand/v2"
)

// Seed restarts the stream of the current build or prediction from seed
// (import random_seed).
func Seed(seed uint64) { seedStream(seed) }

// Read fills p with the next bytes of the stream (import random_fill). It
// always returns len(p), nil.
func Read(p []byte) (n int, err error) {
	fill(p)
	return len(p), nil
}

// Uint64 returns the next 8 bytes of the stream as a little-endian uint64.
func Uint64() uint64 {
	var b [8]byte
	fill(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// Float64 returns a number in [0, 1) made of 53 bits of [Uint64], as
// math/rand/v2 makes it.
func Float64() float64 { return float64(Uint64()<<11>>11) / (1 << 53) }

// NormFloat64 returns a normally distributed number (mean 0, standard
// deviation 1), drawn as math/rand/v2 draws it from [Uint64].
func NormFloat64() float64 { return New().NormFloat64() }

// Source is a math/rand/v2 Source drawing from the host's stream, for the
// rest of math/rand/v2 (IntN, Perm, Shuffle, ExpFloat64, …). Its zero value
// is ready to use. Like the rest of the SDK it serves the guest instance's
// one thread: a wasmreg host never runs two calls on an instance at once.
type Source struct{}

// Uint64 implements rand.Source with [Uint64].
func (Source) Uint64() uint64 { return Uint64() }

// New returns a *rand.Rand drawing from the host's stream.
func New() *rand.Rand { return rand.New(Source{}) }
