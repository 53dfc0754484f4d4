// Command gocaps is a test factory of the Go guest SDK: it exercises every
// typed capability client (log, clock, random, artifact) and the SDK's
// error and panic handling, for examples/factories/go_sdk_test.go, which
// builds it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o gocaps.wasm ./examples/factories/testdata/gocaps
//
// Config: {"seed": s} draws a number from the random stream seeded with s
// at build time; {"panic": true} panics in the build; {"fail_code": c}
// fails it with code c. Requests are JSON objects {"op": …}; see predict.
package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	wasmreg "github.com/wasmreg/wasmreg/guest-sdk/go"
	"github.com/wasmreg/wasmreg/guest-sdk/go/artifact"
	"github.com/wasmreg/wasmreg/guest-sdk/go/clock"
	"github.com/wasmreg/wasmreg/guest-sdk/go/log"
	"github.com/wasmreg/wasmreg/guest-sdk/go/random"
)

func main() {}

func init() {
	wasmreg.Register(wasmreg.Info{
		Name:         "gocaps",
		Version:      "0.1.0",
		Description:  "Exercises the Go guest SDK's capability clients (tests only).",
		ConfigSchema: `{"type": "object", "properties": {"seed": {"type": "integer"}, "panic": {"type": "boolean"}, "fail_code": {"type": "integer"}}}`,
		Capabilities: []string{"log", "clock", "random", "artifact"},
	}, build)
}

type config struct {
	Seed     *uint64 `json:"seed"`
	Panic    bool    `json:"panic"`
	FailCode int32   `json:"fail_code"`
}

type model struct {
	builtDraw float64 // drawn at build time
}

func build(b []byte) (wasmreg.Model, error) {
	var cfg config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if cfg.Panic {
		var m map[string]int
		m["boom"]++ // assignment to entry in nil map
	}
	if cfg.FailCode != 0 {
		return nil, wasmreg.Errorf(cfg.FailCode, "config asked to fail with code %d", cfg.FailCode)
	}
	if cfg.Seed != nil {
		random.Seed(*cfg.Seed)
	}
	return &model{builtDraw: random.Float64()}, nil
}

type request struct {
	Op      string  `json:"op"`
	Seed    *uint64 `json:"seed"`
	N       int     `json:"n"`
	Name    string  `json:"name"`
	Offset  int64   `json:"offset"`
	Msg     string  `json:"msg"`
	Index   int     `json:"index"`
	Code    int32   `json:"code"`
	Message string  `json:"message"`
}

// Predict answers {"op": …}:
//
//   - "clock": the wall clock and two monotonic readings, in nanoseconds;
//   - "random": after seeding with "seed" if given, "n" bytes (hex), then a
//     Uint64, a Float64, a NormFloat64 and a permutation of 5;
//   - "artifact": the size and the contents of artifact "name", and the
//     bytes read by ReadAt from "offset" with a 4-byte buffer;
//   - "log": logs "msg" at every level, with key=value attributes;
//   - "built": the number drawn at build time;
//   - "panic": indexes a 2-element slice with "index";
//   - "fail": fails with wasmreg.Error{"code", "message"};
//   - "oom": allocates until Go's runtime runs out of memory, which no
//     recover catches: the module traps.
func (m *model) Predict(in []byte) ([]byte, error) {
	var req request
	if err := json.Unmarshal(in, &req); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	switch req.Op {
	case "clock":
		start := clock.Monotonic()
		now := clock.Now()
		return json.Marshal(map[string]int64{
			"now_ns": now.UnixNano(), "monotonic_ns": int64(start), "elapsed_ns": int64(clock.Since(start)),
		})
	case "random":
		if req.Seed != nil {
			random.Seed(*req.Seed)
		}
		b := make([]byte, req.N)
		if n, err := random.Read(b); n != len(b) || err != nil {
			return nil, fmt.Errorf("random.Read = %d, %v", n, err)
		}
		return json.Marshal(map[string]any{
			"bytes": hex.EncodeToString(b), "uint64": fmt.Sprint(random.Uint64()),
			"float64": random.Float64(), "norm": random.NormFloat64(), "perm": random.New().Perm(5),
		})
	case "artifact":
		size, found := artifact.Size(req.Name)
		content, err := artifact.ReadAll(req.Name)
		resp := map[string]any{"size": size, "found": found, "content": string(content), "not_found": errors.Is(err, artifact.ErrNotFound)}
		if err != nil {
			resp["error"] = err.Error()
		}
		buf := make([]byte, 4)
		n, err := artifact.ReadAt(req.Name, buf, req.Offset)
		resp["read_at"] = string(buf[:n])
		resp["read_at_eof"] = err == io.EOF
		return json.Marshal(resp)
	case "log":
		log.Debug(req.Msg, "level", "debug")
		log.Info(req.Msg, "level", "info", "took", 1500*time.Millisecond, "quoted", "two words")
		log.Warn(req.Msg, "level", "warn")
		log.Error(req.Msg, "level", "error", "err", errors.New("bad thing"))
		log.Log(2, req.Msg+" at INFO+2")
		return []byte("logged"), nil
	case "built":
		return json.Marshal(m.builtDraw)
	case "panic":
		xs := []int{1, 2}
		return json.Marshal(xs[req.Index])
	case "fail":
		return nil, wasmreg.Error{Code: req.Code, Message: req.Message}
	case "oom":
		var keep [][]byte
		for {
			keep = append(keep, make([]byte, 16<<20))
		}
	}
	return nil, fmt.Errorf("request: unknown op %q", req.Op)
}
