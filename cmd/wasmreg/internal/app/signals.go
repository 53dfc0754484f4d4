package app

import (
	"context"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// watchSignals cancels the command at the first interrupt or terminate
// signal, and calls exit(ExitInterrupted) at the second: the first stops
// guest calls and lets the command report what it did, but a stuck write or
// a guest that does not stop must not leave the user without a way out
// short of SIGKILL. stop ends the watch.
func watchSignals(cancel context.CancelFunc, stderr io.Writer, exit func(int)) (stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { handleSignals(sigs, done, cancel, stderr, exit) })
	return func() {
		signal.Stop(sigs)
		close(done)
		wg.Wait()
	}
}

// handleSignals is watchSignals' goroutine: it returns when done closes.
func handleSignals(sigs <-chan os.Signal, done <-chan struct{}, cancel context.CancelFunc, stderr io.Writer, exit func(int)) {
	select {
	case <-sigs:
		cancel()
	case <-done:
		return
	}
	select {
	case <-sigs:
		// On a fresh line: a progress line may be on the screen.
		_, _ = io.WriteString(stderr, "\nwasmreg: interrupted again: exiting at once\n")
		exit(ExitInterrupted)
	case <-done:
	}
}
