package registry

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type nopFactory struct{}

func (nopFactory) Info() Info                                   { return Info{} }
func (nopFactory) Build(context.Context, []byte) (Model, error) { return nil, nil }

// TestReadsTakeNoLock holds the writers' mutex and checks that every read
// still completes: readers use the published index only, which is why mu
// is a plain Mutex. The deadline only turns a regression (a read taking
// mu) into a failure instead of a hang.
func TestReadsTakeNoLock(t *testing.T) {
	t.Parallel()
	r := New()
	require.NoError(t, r.Register("mlp@1.0.0", nopFactory{}))

	r.mu.Lock()
	defer r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := r.Lookup("MLP")
		assert.NoError(t, err)
		full, _, err := r.Resolve("mlp@1.0.0")
		assert.NoError(t, err)
		assert.Equal(t, "mlp@1.0.0", full)
		_, err = r.Lookup("other")
		assert.ErrorIs(t, err, ErrNotFound)
		assert.Equal(t, []string{"mlp@1.0.0"}, r.Names())
		assert.Equal(t, 1, r.Len())
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a read waited for the writers' mutex")
	}
}
