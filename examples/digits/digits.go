// Package digits holds the handwritten-digits example: the data set (in
// data/, see data/README.md), a deterministic train/held-out split, a
// deterministic trainer for a small [mlpnet] network, and the trained model
// and held-out split embedded in the package so that programs carry them in
// their binary.
//
// The data are 1797 8×8 images of digits, one per CSV row: 64 pixel values
// (integers 0..16, row by row) then the label 0..9, no header line.
//
// Regenerate the embedded files with (from the repository root):
//
//	go run ./examples/digits/train
//
// The package's test checks that this reproduces them bit for bit.
package digits

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed" // for the trained model and the held-out split
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Weights is the trained model in the mlpnet binary format: 64 → 32 relu →
// 10 softmax, inputs scaled by 1/16, labels "0".."9". Decode it with
// mlpnet.Decode; do not modify it.
//
//go:embed digits.weights
var Weights []byte

// HeldOut is the held-out split as CSV, in the format of the data set: the
// rows [Split] holds out, in their original order. Do not modify it.
//
//go:embed heldout.csv
var HeldOut []byte

const (
	// Pixels is the number of inputs: an 8×8 image.
	Pixels = 64
	// Classes is the number of labels, the digits 0..9.
	Classes = 10
)

// ErrData means a data file is not in the digits CSV format.
var ErrData = errors.New("digits: bad data")

// Labels names the classes, for the weights file.
func Labels() []string {
	labels := make([]string, Classes)
	for i := range labels {
		labels[i] = strconv.Itoa(i)
	}
	return labels
}

// HeldOutSamples parses the embedded held-out split.
func HeldOutSamples() (X [][]float32, y []int, err error) {
	return Parse(bytes.NewReader(HeldOut))
}

// Load reads a digits CSV file, gzip-compressed or not (it looks at the
// bytes, not the name): one sample per line, 64 pixel values then the label.
func Load(path string) (X [][]float32, y []int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("digits: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("digits: %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	X, y, err = Parse(r)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return X, y, nil
}

// Parse reads digits CSV: one sample per line, 64 finite pixel values then
// an integer label 0..9. Errors wrap [ErrData] and name the line.
func Parse(r io.Reader) (X [][]float32, y []int, err error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked below, with a clearer message
	cr.ReuseRecord = true
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrData, err)
		}
		if len(rec) != Pixels+1 {
			return nil, nil, fmt.Errorf("%w: line %d: %d columns, want %d (64 pixels and the label)", ErrData, line, len(rec), Pixels+1)
		}
		x := make([]float32, Pixels)
		for i, s := range rec[:Pixels] {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nil, fmt.Errorf("%w: line %d: column %d: %q is not a finite number", ErrData, line, i+1, s)
			}
			x[i] = float32(v)
		}
		label, err := strconv.Atoi(strings.TrimSpace(rec[Pixels]))
		if err != nil || label < 0 || label >= Classes {
			return nil, nil, fmt.Errorf("%w: line %d: label %q, want an integer 0..9", ErrData, line, rec[Pixels])
		}
		X = append(X, x)
		y = append(y, label)
	}
	if len(X) == 0 {
		return nil, nil, fmt.Errorf("%w: no samples", ErrData)
	}
	return X, y, nil
}

// WriteCSV writes samples in the format Parse reads. Pixel values are
// written in the shortest form that reads back the same float32 ("13", not
// "13.0").
func WriteCSV(w io.Writer, X [][]float32, y []int) error {
	if len(X) != len(y) {
		return fmt.Errorf("digits: %d samples but %d labels", len(X), len(y))
	}
	bw := bufio.NewWriter(w)
	var line []byte
	for i, x := range X {
		line = line[:0]
		for _, v := range x {
			line = strconv.AppendFloat(line, float64(v), 'g', -1, 32)
			line = append(line, ',')
		}
		line = strconv.AppendInt(line, int64(y[i]), 10)
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("digits: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("digits: %w", err)
	}
	return nil
}

// Subset returns the samples at the given indices, in that order. The
// slices of pixels are shared, not copied.
func Subset(X [][]float32, y []int, idx []int) ([][]float32, []int) {
	sx, sy := make([][]float32, len(idx)), make([]int, len(idx))
	for k, i := range idx {
		sx[k], sy[k] = X[i], y[i]
	}
	return sx, sy
}

// SplitSeed seeds the shuffle that chooses the held-out rows. It is fixed,
// independent of the training seed, so that retraining with another seed
// keeps the same held-out rows.
const SplitSeed = 1

// HeldOutCount is how many of n samples Split holds out: ⌈n/5⌉, 20% (360
// of the 1797 digits).
func HeldOutCount(n int) int { return (n + 4) / 5 }

// Split chooses the held-out rows of a data set of n samples: it shuffles
// the indices 0..n-1 with [Shuffle] and a PCG seeded (SplitSeed, 0) and
// holds out the last [HeldOutCount](n). Both slices are returned in
// ascending order; together they are 0..n-1 and they never overlap.
func Split(n int) (train, heldOut []int) {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	Shuffle(newPCG(SplitSeed, 0), idx)
	k := n - HeldOutCount(n)
	train, heldOut = idx[:k:k], idx[k:]
	slices.Sort(train)
	slices.Sort(heldOut)
	return train, heldOut
}
