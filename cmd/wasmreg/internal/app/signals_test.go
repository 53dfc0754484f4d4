package app

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHandleSignals checks the two steps: the first signal cancels, the
// second exits with ExitInterrupted; and nothing happens once the watch
// is over.
func TestHandleSignals(t *testing.T) {
	run := func(signals int, closeDone bool) (canceled bool, exited []int, stderr string) {
		sigs := make(chan os.Signal, 2)
		done := make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex // guards exited
		var out bytes.Buffer
		exit := func(code int) {
			mu.Lock()
			exited = append(exited, code)
			mu.Unlock()
			close(done) // os.Exit does not return: end the goroutine
		}
		finished := make(chan struct{})
		go func() {
			defer close(finished)
			handleSignals(sigs, done, cancel, &out, exit)
		}()
		for range signals {
			sigs <- os.Interrupt
		}
		if signals < 2 {
			if signals == 1 {
				<-ctx.Done()
			}
			if closeDone {
				close(done)
			}
		}
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return ctx.Err() != nil, exited, out.String()
	}

	canceled, exited, stderr := run(1, true)
	assert.True(t, canceled, "the first signal cancels")
	assert.Empty(t, exited, "and does not exit")
	assert.Empty(t, stderr)

	canceled, exited, stderr = run(2, false)
	assert.True(t, canceled)
	assert.Equal(t, []int{ExitInterrupted}, exited, "the second exits at once")
	assert.Equal(t, "\nwasmreg: interrupted again: exiting at once\n", stderr)

	canceled, exited, _ = run(0, true)
	assert.False(t, canceled, "no signal, no cancel")
	assert.Empty(t, exited)
}

// TestReaderWithContext checks that reads pass through exactly, and that a
// read blocked on an input that never comes returns once the context is
// done.
func TestReaderWithContext(t *testing.T) {
	const text = "first line\nsecond line\n"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got, err := io.ReadAll(readerWithContext(ctx, iotest.HalfReader(strings.NewReader(text))))
	require.NoError(t, err)
	assert.Equal(t, text, string(got))
	require.NoError(t, iotest.TestReader(readerWithContext(ctx, strings.NewReader(text)), []byte(text)))

	pr, pw := io.Pipe()
	defer pw.Close()
	r := readerWithContext(ctx, pr)
	errs := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 16))
		errs <- err
	}()
	select {
	case err := <-errs:
		t.Fatalf("read returned %v with no input", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	assert.ErrorIs(t, <-errs, context.Canceled, "the blocked read returns once the context is done")
	_, err = r.Read(make([]byte, 16))
	assert.ErrorIs(t, err, context.Canceled, "and so does every later one")
}
