package host_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/registry"
)

// TestHammerConcurrentBuilds builds 100 models of several factories at once
// and checks that each answers with its own config.
func TestHammerConcurrentBuilds(t *testing.T) {
	h, _ := newHost(t, allCaps)
	factories := []*host.Factory{load(t, h, "echo.wasm"), load(t, h, "guest.wasm")}
	const goroutines = 100
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for i := range goroutines {
		wg.Go(func() {
			ctx := context.Background()
			f := factories[i%len(factories)]
			config := fmt.Sprintf(`{"id":%d}`, i)
			m, err := f.Build(ctx, []byte(config))
			if err != nil {
				errs <- err
				return
			}
			defer m.Close(ctx)
			for j := range 10 {
				req := fmt.Sprintf("?%d", j)
				out, err := m.Predict(ctx, []byte(req))
				if err != nil {
					errs <- err
					return
				}
				want := config
				if f.Info().Name == "testguest" {
					want += req
				}
				if string(out) != want {
					errs <- fmt.Errorf("model %d request %d: got %q, want %q", i, j, out, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestHammerSharedModel calls one model from 50 goroutines: the calls are
// serialised, so the guest's counter sees every call exactly once.
func TestHammerSharedModel(t *testing.T) {
	h, _ := newHost(t, allCaps)
	m, err := load(t, h, "guest.wasm").Build(context.Background(), nil)
	require.NoError(t, err)
	defer m.Close(context.Background())
	const goroutines, calls = 50, 20
	var mu sync.Mutex
	var seen []int
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range calls {
				out, err := m.Predict(context.Background(), []byte("n"))
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				seen = append(seen, int(binary.LittleEndian.Uint32(out)))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, goroutines*calls)
	sort.Ints(seen)
	for i, v := range seen {
		require.Equal(t, i+1, v, "every call seen exactly once")
	}
}

// TestHammerModelPool hands a model's instances between goroutines as fast
// as they go: no caller waits for an instance that is idle, whatever the
// interleaving of a release with callers that start waiting or give up.
// Callers whose context is already canceled pass through the wait without
// calling the guest.
func TestHammerModelPool(t *testing.T) {
	for _, tc := range []struct {
		name               string
		instances, callers int
		canceled           int // callers with a canceled context
		callsPerCaller     int
	}{
		{"one instance", 1, 6, 0, 2000},
		{"one instance, callers giving up", 1, 4, 2, 2000},
		{"three instances", 3, 6, 0, 2000},
		{"three instances, callers giving up", 3, 4, 2, 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newHost(t, host.WithModelInstances(tc.instances), host.WithMaxInstances(tc.instances))
			m, err := load(t, h, "echo.wasm").BuildModel(context.Background(), []byte(`{"pool":1}`))
			require.NoError(t, err)
			defer m.Close(context.Background())
			canceled, cancel := context.WithCancel(context.Background())
			cancel()
			var wg sync.WaitGroup
			for i := range tc.callers + tc.canceled {
				wg.Go(func() {
					for range tc.callsPerCaller {
						if i >= tc.callers {
							_, err := m.Predict(canceled, nil)
							if !assert.ErrorIs(t, err, context.Canceled) {
								return
							}
							continue
						}
						// A lost handoff would leave this caller waiting
						// until its deadline.
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						out, err := m.Predict(ctx, nil)
						cancel()
						if !assert.NoError(t, err) || !assert.Equal(t, `{"pool":1}`, string(out)) {
							return
						}
					}
				})
			}
			wg.Wait()
			assert.LessOrEqual(t, m.Instances(), tc.instances)
			out, err := m.Predict(context.Background(), nil)
			require.NoError(t, err, "the model still serves")
			assert.Equal(t, `{"pool":1}`, string(out))
		})
	}
}

// TestHammerRegistryWithHost mixes registry replacements with builds of
// real factories: a build finishes on the factory it resolved.
func TestHammerRegistryWithHost(t *testing.T) {
	h, _ := newHost(t, allCaps)
	echo, guest := load(t, h, "echo.wasm"), load(t, h, "guest.wasm")
	reg := registry.New()
	require.NoError(t, reg.Register("model@1.0.0", echo))
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			for j := range 50 {
				f := registry.Factory(echo)
				if (i+j)%2 == 0 {
					f = guest
				}
				assert.NoError(t, reg.Replace("model@1.0.0", f))
			}
		})
	}
	for range 50 {
		wg.Go(func() {
			for range 5 {
				m, err := reg.Build(context.Background(), "MODEL", []byte(`{"k":1}`))
				if !assert.NoError(t, err) {
					return
				}
				out, err := m.Predict(context.Background(), []byte("!"))
				assert.NoError(t, err)
				want := `{"k":1}`
				if m.(*host.Model).Factory() == guest {
					want += "!"
				}
				assert.Equal(t, want, string(out))
				assert.NoError(t, m.Close(context.Background()))
			}
		})
	}
	wg.Wait()
}
