package digits_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/examples/digits"
	"github.com/wasmreg/wasmreg/examples/mlpnet"
)

const dataPath = "data/digits.csv.gz"

func TestHeldOutAccuracy(t *testing.T) {
	n, err := mlpnet.Decode(digits.Weights)
	require.NoError(t, err)
	assert.Equal(t, []int{64, 32, 10}, n.Sizes())
	assert.Equal(t, float32(1.0/16), n.InputScale)
	assert.Equal(t, digits.Labels(), n.Labels)

	X, y, err := digits.HeldOutSamples()
	require.NoError(t, err)
	require.Len(t, X, 360)
	correct := digits.Accuracy(n, X, y)
	acc := float64(correct) / float64(len(X))
	t.Logf("digits held-out accuracy: %.4f (%d/%d)", acc, correct, len(X))
	fmt.Printf("digits held-out accuracy: %.4f (%d/%d)\n", acc, correct, len(X))
	assert.GreaterOrEqual(t, acc, 0.95)
}

func TestSplit(t *testing.T) {
	X, y, err := digits.Load(dataPath)
	require.NoError(t, err)
	require.Len(t, X, 1797)
	train, held := digits.Split(len(X))
	assert.Len(t, held, 360)
	assert.Len(t, train, 1797-360)
	assert.True(t, slices.IsSorted(train) && slices.IsSorted(held))

	t.Run("disjoint and complete", func(t *testing.T) {
		all := slices.Concat(train, held)
		slices.Sort(all)
		for i, v := range all {
			require.Equal(t, i, v, "every index once")
		}
		// No held-out image appears among the training images either
		// (the data set has no duplicate rows).
		seen := map[string]bool{}
		for _, i := range train {
			seen[fmt.Sprint(X[i], y[i])] = true
		}
		for _, i := range held {
			assert.False(t, seen[fmt.Sprint(X[i], y[i])], "held-out row %d is also a training row", i)
		}
	})

	t.Run("committed heldout.csv is the split", func(t *testing.T) {
		hx, hy := digits.Subset(X, y, held)
		var buf bytes.Buffer
		require.NoError(t, digits.WriteCSV(&buf, hx, hy))
		assert.Equal(t, buf.String(), string(digits.HeldOut))
		gotX, gotY, err := digits.HeldOutSamples()
		require.NoError(t, err)
		assert.Equal(t, hx, gotX)
		assert.Equal(t, hy, gotY)
	})

	t.Run("stable", func(t *testing.T) {
		train2, held2 := digits.Split(1797)
		assert.Equal(t, train, train2)
		assert.Equal(t, held, held2)
		// The first held-out indices, so that a change of the shuffle
		// cannot go unnoticed.
		assert.Equal(t, firstHeldOut, held[:5])
	})
}

// firstHeldOut pins the split: the five smallest held-out indices.
var firstHeldOut = []int{6, 10, 19, 22, 29}

// TestTrainReproducesCommittedWeights retrains in-process, exactly as
// `go run ./examples/digits/train` does, and compares bytes.
func TestTrainReproducesCommittedWeights(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the model")
	}
	X, y, err := digits.Load(dataPath)
	require.NoError(t, err)
	train, _ := digits.Split(len(X))
	tx, ty := digits.Subset(X, y, train)
	n, err := digits.Train(tx, ty, digits.DefaultConfig())
	require.NoError(t, err)
	b, err := n.MarshalBinary()
	require.NoError(t, err)
	require.True(t, bytes.Equal(digits.Weights, b),
		"retraining gave other weights: run `go run ./examples/digits/train` and commit, or find what broke determinism")
	assert.Equal(t, len(tx), digits.Accuracy(n, tx, ty), "the committed model fits its training split")
}

func TestTrainDeterminism(t *testing.T) {
	X, y, err := digits.Load(dataPath)
	require.NoError(t, err)
	X, y = X[:200], y[:200]
	cfg := digits.DefaultConfig()
	cfg.Epochs = 3
	a, err := digits.Train(X, y, cfg)
	require.NoError(t, err)
	b, err := digits.Train(X, y, cfg)
	require.NoError(t, err)
	assert.Equal(t, a, b)
	cfg.Seed++
	c, err := digits.Train(X, y, cfg)
	require.NoError(t, err)
	assert.NotEqual(t, a.Layers[0].W, c.Layers[0].W)

	var lines []string
	cfg.Logf = func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	_, err = digits.Train(X, y, cfg)
	require.NoError(t, err)
	assert.Len(t, lines, 2, "epoch 1 and the last")

	for _, bad := range []func(*digits.Config){
		func(c *digits.Config) { c.Epochs = 0 },
		func(c *digits.Config) { c.BatchSize = 0 },
		func(c *digits.Config) { c.LearningRate = 0 },
		func(c *digits.Config) { c.Hidden = []int{0} },
		func(c *digits.Config) { c.Activation = "gelu" },
	} {
		c := digits.DefaultConfig()
		bad(&c)
		_, err := digits.Train(X, y, c)
		assert.Error(t, err)
	}
	_, err = digits.Train(X, y[:10], digits.DefaultConfig())
	assert.ErrorContains(t, err, "200 samples and 10 labels")
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	row := strings.Repeat("1,", 64) + "7\n"
	plain := filepath.Join(dir, "d.csv")
	require.NoError(t, os.WriteFile(plain, []byte(row+row), 0o644))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(row))
	require.NoError(t, zw.Close())
	zipped := filepath.Join(dir, "d.csv.gz")
	require.NoError(t, os.WriteFile(zipped, gz.Bytes(), 0o644))

	X, y, err := digits.Load(plain)
	require.NoError(t, err)
	assert.Len(t, X, 2)
	assert.Equal(t, []int{7, 7}, y)
	X, y, err = digits.Load(zipped)
	require.NoError(t, err)
	assert.Equal(t, [][]float32{slices.Repeat([]float32{1}, 64)}, X)
	assert.Equal(t, []int{7}, y)

	_, _, err = digits.Load(filepath.Join(dir, "missing.csv"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	tests := []struct {
		name, data, wantErr string
	}{
		{"empty", "", "no samples"},
		{"short row", strings.Repeat("1,", 63) + "7\n", "line 1: 64 columns, want 65"},
		{"bad pixel", "x," + strings.Repeat("1,", 63) + "7\n", `line 1: column 1: "x" is not a finite number`},
		{"NaN pixel", "NaN," + strings.Repeat("1,", 63) + "7\n", `"NaN" is not a finite number`},
		{"bad label", row + strings.Repeat("1,", 64) + "10\n", `line 2: label "10", want an integer 0..9`},
		{"header line", strings.Repeat("p,", 64) + "label\n" + row, `line 1: column 1: "p"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := digits.Parse(strings.NewReader(tc.data))
			require.ErrorIs(t, err, digits.ErrData)
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestSplitSmall(t *testing.T) {
	_, held := digits.Split(10)
	assert.Len(t, held, 2)
	train, held := digits.Split(1)
	assert.Empty(t, train)
	assert.Equal(t, []int{0}, held)
}
