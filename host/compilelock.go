package host

import (
	"crypto/sha256"
	"sync"
)

// compileLocks serialises wazero's compiles of identical bytes within one
// host. wazero v1.12 publishes a module it read from the file cache before
// that module's entry preambles are compiled (wazero issue #2547), so a
// second compile of the same bytes, running meanwhile, gets a module whose
// first instantiation panics inside wazero. Compiles of different bytes
// still run side by side. The zero value is ready; safe for concurrent use.
type compileLocks struct {
	mu    sync.Mutex // protects locks
	locks map[[sha256.Size]byte]*compileLock
}

type compileLock struct {
	mu    sync.Mutex
	users int // goroutines holding or waiting for mu; guarded by compileLocks.mu
}

// lock waits until no other compile of wasm runs in this host and returns
// the function that ends this one.
func (c *compileLocks) lock(wasm []byte) (unlock func()) {
	key := sha256.Sum256(wasm)
	c.mu.Lock()
	if c.locks == nil {
		c.locks = map[[sha256.Size]byte]*compileLock{}
	}
	l := c.locks[key]
	if l == nil {
		l = &compileLock{}
		c.locks[key] = l
	}
	l.users++
	c.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		c.mu.Lock()
		if l.users--; l.users == 0 {
			delete(c.locks, key)
		}
		c.mu.Unlock()
	}
}
