//go:build !wasip1

package random

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
)

func chacha(seed uint64) *rand.ChaCha8 {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:8], seed)
	return rand.NewChaCha8(key)
}

// TestSeededStream checks the contract of docs/ABI.md §4.2 natively: after
// Seed the stream is ChaCha8 keyed by the seed, and the helpers draw as
// math/rand/v2 does.
func TestSeededStream(t *testing.T) {
	for _, seed := range []uint64{0, 42, 1<<64 - 1} {
		Seed(seed)
		got := make([]byte, 37)
		if n, err := Read(got); n != len(got) || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
		want := make([]byte, 37)
		_, _ = chacha(seed).Read(want)
		if !bytes.Equal(got, want) {
			t.Errorf("seed %d: Read = %x, want %x", seed, got, want)
		}

		Seed(seed)
		r := rand.New(chacha(seed))
		if got, want := Uint64(), r.Uint64(); got != want {
			t.Errorf("seed %d: Uint64 = %d, want %d", seed, got, want)
		}
		if got, want := Float64(), r.Float64(); got != want {
			t.Errorf("seed %d: Float64 = %v, want %v", seed, got, want)
		}
		if got, want := NormFloat64(), r.NormFloat64(); got != want {
			t.Errorf("seed %d: NormFloat64 = %v, want %v", seed, got, want)
		}
		if got, want := New().Perm(5), r.Perm(5); !slices.Equal(got, want) {
			t.Errorf("seed %d: Perm = %v, want %v", seed, got, want)
		}
	}
}

func TestFloat64Range(t *testing.T) {
	Seed(7)
	for range 10000 {
		if f := Float64(); f < 0 || f >= 1 {
			t.Fatalf("Float64() = %v, outside [0, 1)", f)
		}
	}
}
