// Command fit fits the softmax regression of iris_softmax.json to iris.csv
// with plain full-batch gradient descent, so that the linear factory's iris
// example can be regenerated without any machine-learning library. From the
// repository root:
//
//	go run ./examples/factories/linear/testdata/fit > examples/factories/linear/testdata/iris_softmax.json
//
// It standardises the features, minimises the mean cross-entropy plus a
// small L2 penalty, then folds the standardisation back into the weights so
// that the model takes raw measurements in centimetres. It is deterministic.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

const (
	steps = 5000
	rate  = 0.5
	l2    = 1e-3
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fit:", err)
		os.Exit(1)
	}
}

func run() error {
	_, self, _, _ := runtime.Caller(0)
	xs, ys, labels, err := load(filepath.Join(filepath.Dir(self), "..", "iris.csv"))
	if err != nil {
		return err
	}
	n, f, k := len(xs), len(xs[0]), len(labels)

	mean, sd := make([]float64, f), make([]float64, f)
	for _, x := range xs {
		for j, v := range x {
			mean[j] += v / float64(n)
		}
	}
	for _, x := range xs {
		for j, v := range x {
			sd[j] += (v - mean[j]) * (v - mean[j]) / float64(n)
		}
	}
	for j := range sd {
		sd[j] = math.Sqrt(sd[j])
	}
	zs := make([][]float64, n)
	for i, x := range xs {
		zs[i] = make([]float64, f)
		for j, v := range x {
			zs[i][j] = (v - mean[j]) / sd[j]
		}
	}

	w := make([][]float64, k)
	for c := range w {
		w[c] = make([]float64, f)
	}
	b := make([]float64, k)
	p := make([]float64, k)
	for range steps {
		gw := make([][]float64, k)
		for c := range gw {
			gw[c] = make([]float64, f)
		}
		gb := make([]float64, k)
		for i, z := range zs {
			probs(w, b, z, p)
			for c := range k {
				d := p[c]
				if c == ys[i] {
					d--
				}
				gb[c] += d / float64(n)
				for j := range f {
					gw[c][j] += d * z[j] / float64(n)
				}
			}
		}
		for c := range k {
			b[c] -= rate * gb[c]
			for j := range f {
				w[c][j] -= rate * (gw[c][j] + l2*w[c][j])
			}
		}
	}

	// Fold the standardisation in: w·(x-mean)/sd + b = (w/sd)·x + (b - Σ w mean/sd).
	raw := make([][]float64, k)
	bias := make([]float64, k)
	for c := range k {
		raw[c] = make([]float64, f)
		bias[c] = b[c]
		for j := range f {
			raw[c][j] = round(w[c][j] / sd[j])
			bias[c] -= w[c][j] * mean[j] / sd[j]
		}
		bias[c] = round(bias[c])
	}
	correct := 0
	for i, x := range xs {
		probs(raw, bias, x, p)
		best := 0
		for c := range p {
			if p[c] > p[best] {
				best = c
			}
		}
		if best == ys[i] {
			correct++
		}
	}
	fmt.Fprintf(os.Stderr, "fit: training accuracy %d/%d\n", correct, n)

	// One row per line, so that the config reads as the matrix it is.
	rows := make([]string, k)
	for c := range raw {
		rows[c] = "    " + mustJSON(raw[c])
	}
	fmt.Printf("{\n  \"weights\": [\n%s\n  ],\n  \"bias\": %s,\n  \"link\": \"softmax\",\n  \"labels\": %s\n}\n",
		strings.Join(rows, ",\n"), mustJSON(bias), mustJSON(labels))
	return nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return strings.ReplaceAll(string(b), ",", ", ")
}

func round(x float64) float64 { return math.Round(x*1e4) / 1e4 }

func probs(w [][]float64, b, x, p []float64) {
	top := math.Inf(-1)
	for c := range w {
		p[c] = b[c]
		for j, v := range x {
			p[c] += w[c][j] * v
		}
		top = max(top, p[c])
	}
	sum := 0.0
	for c := range p {
		p[c] = math.Exp(p[c] - top)
		sum += p[c]
	}
	for c := range p {
		p[c] /= sum
	}
}

// load reads iris.csv: a header "rows,features,label,…" then rows of
// features and a class index.
func load(path string) (xs [][]float64, ys []int, labels []string, err error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Scan()
	header := strings.Split(sc.Text(), ",")
	labels = header[2:]
	for sc.Scan() {
		cells := strings.Split(sc.Text(), ",")
		x := make([]float64, len(cells)-1)
		for j := range x {
			if x[j], err = strconv.ParseFloat(cells[j], 64); err != nil {
				return nil, nil, nil, err
			}
		}
		y, err := strconv.Atoi(cells[len(cells)-1])
		if err != nil {
			return nil, nil, nil, err
		}
		xs, ys = append(xs, x), append(ys, y)
	}
	return xs, ys, labels, sc.Err()
}
