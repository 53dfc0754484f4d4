// Command benchserve is `make bench-serve`: the serving benchmarks of
// docs/PERFORMANCE.md ("Serving"). It starts each server
// (bench/serve/cmd/benchserver) as a subprocess on 127.0.0.1, drives it
// with hey or ghz, and prints a table and the ratios to their baselines.
// It exits non-zero if a server fails to start or a request fails, never
// because a target is missed.
//
//	go build -o build/bin/benchserver ./bench/serve/cmd/benchserver
//	go run ./bench/serve/cmd/benchserve -duration 10s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/wasmreg/wasmreg/bench/serve/internal/driver"
)

// defaultDuration is each run's length: the brief's 10 s.
const defaultDuration = 10 * time.Second

// lookPath finds name on PATH, or leaves it for the driver's check to name.
func lookPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

func main() {
	var c driver.Config
	var digitsConc, cases string
	flag.StringVar(&c.Server, "server", "build/bin/benchserver", "the benchserver binary")
	flag.StringVar(&c.Wasmreg, "wasmreg", "build/bin/wasmreg", "the wasmreg CLI, for wasmreg bench")
	flag.StringVar(&c.Hey, "hey", "hey", "the hey binary (HTTP load)")
	flag.StringVar(&c.Ghz, "ghz", "build/tools/ghz-v0.93.0/ghz", "the ghz binary (gRPC load)")
	flag.StringVar(&c.Proto, "proto", "serve/oippb/open_inference_grpc.proto", "the OIP .proto, for ghz")
	flag.StringVar(&c.Factories, "factories", "build/factories", "directory of echo.wasm, linear.wasm, mlpc.wasm (make examples)")
	flag.StringVar(&c.Weights, "weights", "examples/digits/digits.weights", "the digits model's weights")
	flag.StringVar(&c.Heldout, "heldout", "examples/digits/heldout.csv", "held-out digits; the first is the request")
	flag.DurationVar(&c.Duration, "duration", defaultDuration, "length of each run (wasmreg bench gets twice that: half of it builds)")
	flag.IntVar(&c.Requests, "requests", 0, "if positive, each hey or ghz run sends this many requests instead of running for -duration")
	flag.IntVar(&c.Rounds, "rounds", 3, "each case's runs, interleaved, this many times (rps: the mean; p50, p99: the medians)")
	flag.IntVar(&c.Concurrency, "c", 64, "concurrency of the echo and isolation cases")
	flag.StringVar(&digitsConc, "digits-c", "1,8,64", "concurrencies of the digits case")
	flag.StringVar(&cases, "cases", "", "comma-separated cases to run: 1 (REST, with 5), 2 (gRPC), 3 (isolation), 4 (digits); all if empty")
	flag.BoolVar(&c.ServeCLI, "wasmreg-serve", false, "serve the wasmreg side with `wasmreg serve` (-wasmreg) on a models file instead of -server")
	flag.StringVar(&c.ProfileDir, "profile-dir", "", "if set, each benchserver writes a CPU profile of its case there (NAME.pprof)")
	flag.Parse()
	for _, f := range strings.Split(digitsConc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchserve: -digits-c %q: %v\n", digitsConc, err)
			os.Exit(2)
		}
		c.DigitsConc = append(c.DigitsConc, n)
	}
	if cases != "" {
		c.Cases = strings.Split(cases, ",")
	}
	if c.Hey == "hey" {
		c.Hey = lookPath("hey")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := driver.Run(ctx, c, os.Stderr)
	if rep != nil {
		fmt.Println()
		_ = rep.Write(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchserve:", err)
		os.Exit(1)
	}
}
