// Command train trains the digits example model and writes it with the
// held-out split. From the repository root:
//
//	go run ./examples/digits/train
//
// rewrites examples/digits/digits.weights and examples/digits/heldout.csv
// bit for bit (the digits package's test checks it). The training itself is
// digits.Train; this program only reads flags and files.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wasmreg/wasmreg/examples/digits"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	def := digits.DefaultConfig()
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	data := fs.String("data", "examples/digits/data/digits.csv.gz", "the digits CSV (gzip or not)")
	out := fs.String("out", "examples/digits/digits.weights", "where to write the trained weights (mlpnet format)")
	heldOutPath := fs.String("heldout", "examples/digits/heldout.csv", "where to write the held-out split (CSV)")
	seed := fs.Uint64("seed", def.Seed, "seed of the initial weights and the sample order")
	epochs := fs.Int("epochs", def.Epochs, "passes over the training split")
	hidden := fs.String("hidden", joinInts(def.Hidden), "hidden layer widths, comma-separated")
	activation := fs.String("activation", def.Activation, "hidden activation: relu, tanh or sigmoid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	widths, err := parseInts(*hidden)
	if err != nil {
		return fmt.Errorf("flag -hidden: %w", err)
	}
	cfg := def
	cfg.Seed, cfg.Epochs, cfg.Hidden, cfg.Activation = *seed, *epochs, widths, *activation
	cfg.Logf = func(format string, args ...any) { fmt.Printf(format+"\n", args...) }

	X, y, err := digits.Load(*data)
	if err != nil {
		return err
	}
	trainIdx, heldIdx := digits.Split(len(X))
	trainX, trainY := digits.Subset(X, y, trainIdx)
	heldX, heldY := digits.Subset(X, y, heldIdx)
	fmt.Printf("%d samples: %d for training, %d held out\n", len(X), len(trainX), len(heldX))

	start := time.Now()
	n, err := digits.Train(trainX, trainY, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("trained %v %s in %s\n", n.Sizes(), n.Activation, time.Since(start).Round(time.Millisecond))
	tr, ho := digits.Accuracy(n, trainX, trainY), digits.Accuracy(n, heldX, heldY)
	fmt.Printf("train accuracy:    %.4f (%d/%d)\n", float64(tr)/float64(len(trainX)), tr, len(trainX))
	fmt.Printf("held-out accuracy: %.4f (%d/%d)\n", float64(ho)/float64(len(heldX)), ho, len(heldX))

	weights, err := n.MarshalBinary()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, weights, 0o644); err != nil {
		return err
	}
	var csv bytes.Buffer
	if err := digits.WriteCSV(&csv, heldX, heldY); err != nil {
		return err
	}
	if err := os.WriteFile(*heldOutPath, csv.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s (%d bytes) and %s (%d rows)\n", *out, len(weights), *heldOutPath, len(heldX))
	return nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q is not a list of positive integers", s)
		}
		out = append(out, v)
	}
	return out, nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}
