// Command goguest is a factory written in Go against the raw ABI v1, without
// the guest SDK, for the host's tests. Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o goguest.wasm ./host/testdata/goguest
//
// Config: {"scale": x}. Request: a JSON array of numbers; response: the
// array scaled. The request "panic" panics, "errorpanic" sets an error
// message and then panics, "oom" allocates until Go runs out of memory,
// "print" writes a line to stdout, "partial" writes to stdout without a
// final newline. The config {"panic": true} panics in the build.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"unsafe"
)

//go:wasmimport wasmreg input
func hostInput(ptr unsafe.Pointer)

//go:wasmimport wasmreg output
func hostOutput(ptr unsafe.Pointer, n uint32)

//go:wasmimport wasmreg error
func hostError(ptr unsafe.Pointer, n uint32)

//go:wasmimport wasmreg log
func hostLog(level int32, ptr unsafe.Pointer, n uint32)

func main() {}

var scale = 1.0

func input(n int32) []byte {
	b := make([]byte, n)
	if n > 0 {
		hostInput(unsafe.Pointer(&b[0]))
	}
	return b
}

func output(b []byte) {
	if len(b) > 0 {
		hostOutput(unsafe.Pointer(&b[0]), uint32(len(b)))
	}
}

func fail(err error) int32 {
	msg := []byte(err.Error())
	hostError(unsafe.Pointer(&msg[0]), uint32(len(msg)))
	return 1
}

//go:wasmexport wasmreg_abi_version
func abiVersion() int32 { return 1 }

//go:wasmexport wasmreg_info
func info() int32 {
	output([]byte(`{"name":"goguest","version":"0.1.0","description":"scales a vector (raw ABI, Go)","config_schema":{"type":"object","properties":{"scale":{"type":"number"}}},"capabilities":["log"]}`))
	return 0
}

//go:wasmexport wasmreg_build
func build(n int32) int32 {
	var cfg struct {
		Scale *float64 `json:"scale"`
		Panic bool     `json:"panic"`
	}
	if err := json.Unmarshal(input(n), &cfg); err != nil {
		return fail(fmt.Errorf("config: %w", err))
	}
	if cfg.Panic {
		panic("goguest: asked to panic in the build")
	}
	if cfg.Scale != nil {
		scale = *cfg.Scale
	}
	msg := []byte(fmt.Sprintf("built with scale %g", scale))
	hostLog(0, unsafe.Pointer(&msg[0]), uint32(len(msg)))
	return 0
}

//go:wasmexport wasmreg_predict
func predict(n int32) int32 {
	req := input(n)
	switch string(req) {
	case "panic":
		panic("goguest: asked to panic")
	case "errorpanic":
		fail(errors.New("goguest: the error set before trapping"))
		panic("goguest: a panic after error")
	case "oom":
		var keep [][]byte
		for {
			keep = append(keep, make([]byte, 64<<20))
		}
	case "print":
		fmt.Println("hello from goguest stdout")
		output([]byte("printed"))
		return 0
	case "partial":
		fmt.Print("no newline at the end")
		return 0
	}
	var xs []float64
	if err := json.Unmarshal(req, &xs); err != nil {
		return fail(fmt.Errorf("request: %w", err))
	}
	for i := range xs {
		xs[i] *= scale
	}
	b, _ := json.Marshal(xs)
	output(b)
	return 0
}
