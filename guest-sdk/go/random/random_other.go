//go:build !wasip1

package random

import (
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
)

// stream is the process's stream outside a host; nil until first used.
var stream *rand.ChaCha8

func seedStream(seed uint64) {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:8], seed)
	stream = rand.NewChaCha8(key)
}

func fill(p []byte) {
	if stream == nil {
		var key [32]byte
		_, _ = crand.Read(key[:]) // never fails since Go 1.24
		stream = rand.NewChaCha8(key)
	}
	_, _ = stream.Read(p)
}
