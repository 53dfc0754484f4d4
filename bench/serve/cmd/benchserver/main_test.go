package main

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestModelFlag(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	for _, tc := range []struct {
		in   string
		want modelFlag
		err  string
	}{
		{in: "name=echo,file=e.wasm", want: modelFlag{name: "echo", file: "e.wasm", instances: procs, config: "{}"}},
		{in: `name=m,file=m.wasm,instances=3,isolation=request,config={"a":[1,2],"b":"x,y=z"}`,
			want: modelFlag{name: "m", file: "m.wasm", instances: 3, isolation: "request", config: `{"a":[1,2],"b":"x,y=z"}`}},
		{in: "name=m", err: "name= and file= are required"},
		{in: "file=m.wasm", err: "name= and file= are required"},
		{in: "name=m,file=f,instances=0", err: "instances"},
		{in: "name=m,file=f,instances=x", err: "instances"},
		{in: "name=m,file=f,colour=red", err: `unknown field "colour"`},
		{in: "name=m,file", err: "not key=value"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var m modelFlags
			err := m.Set(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				assert.Empty(t, m)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, modelFlags{tc.want}, m)
		})
	}
}

func TestRunRefuses(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"-mode", "bare", "-model", "name=x,file=y"}, "for -mode wasmreg"},
		{[]string{"-mode", "wasmreg"}, "at least one -model"},
		{[]string{"-grpc", "192.0.2.1:0", "-mode", "bare"}, "loopback"},
		{[]string{"-artifact", "noequals", "-mode", "bare"}, "NAME=FILE"},
		{[]string{"stray"}, "unexpected arguments"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			require.ErrorContains(t, run(tc.args, io.Discard), tc.err)
		})
	}
}

// syncBuffer hands each write of the server goroutine to the test, line
// by line (run writes whole lines).
type syncBuffer struct {
	ch chan string
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.ch <- string(p)
	return len(p), nil
}

// TestBare serves the bare baselines in process and checks the REST one
// answers the 64-byte body, then stops it with SIGTERM as the driver does.
func TestBare(t *testing.T) {
	require.Len(t, bareBody, 64)
	out := &syncBuffer{ch: make(chan string, 4)}
	done := make(chan error, 1)
	go func() { done <- run([]string{"-mode", "bare"}, out) }()
	var ready string
	select {
	case ready = <-out.ch:
	case <-time.After(30 * time.Second):
		t.Fatal("no ready line")
	}
	f := strings.Fields(ready)
	require.Len(t, f, 4, ready)
	addr := strings.TrimPrefix(f[1], "http=")
	resp, err := http.Post("http://"+addr+"/anything", "application/json", strings.NewReader(`{"x":1}`))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, bytes.Equal(bareBody, body), "%s", body)

	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}
