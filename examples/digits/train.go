package digits

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"

	"github.com/wasmreg/wasmreg/examples/mlpnet"
)

// Config is how Train trains. The zero value is not useful: start from
// [DefaultConfig]. It is a plain value, safe to share between goroutines.
type Config struct {
	// Hidden is the width of each hidden layer.
	Hidden []int
	// Activation is the hidden layers' activation: "relu", "tanh" or
	// "sigmoid".
	Activation string
	// Epochs is the number of passes over the training samples.
	Epochs int
	// BatchSize is the number of samples per Adam step.
	BatchSize int
	// LearningRate is Adam's step size.
	LearningRate float64
	// Seed seeds the weights and the order of the samples.
	Seed uint64
	// Logf, if not nil, receives a progress line every few epochs.
	Logf func(format string, args ...any)
}

// DefaultConfig is the configuration of the committed model.
func DefaultConfig() Config {
	return Config{
		Hidden:       []int{32},
		Activation:   "relu",
		Epochs:       60,
		BatchSize:    32,
		LearningRate: 0.003,
		Seed:         1,
	}
}

// Adam's other hyperparameters, the usual ones.
const (
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
)

// Train trains a network 64 → cfg.Hidden… → 10 (softmax) on the samples
// with mini-batch Adam on the mean cross-entropy, and returns it with input
// scale 1/16 (pixels 0..16 become 0..1) and labels "0".."9".
//
// Training is deterministic, bit for bit, on every platform: one goroutine,
// a PCG seeded (cfg.Seed, 0) that first gives the Glorot draws of
// mlpnet.Init (one per weight) and then, for every epoch, a [Shuffle] of the
// samples' order; the last batch of an epoch may be smaller. Gradients and
// Adam's moments are float64 and every product is rounded explicitly so
// that no compiler fuses it into an FMA; the weights are float32 and the
// forward pass is mlpnet's.
func Train(X [][]float32, y []int, cfg Config) (*mlpnet.Network, error) {
	if len(X) == 0 || len(X) != len(y) {
		return nil, fmt.Errorf("digits: train: %d samples and %d labels", len(X), len(y))
	}
	for i := range X {
		if len(X[i]) != Pixels || y[i] < 0 || y[i] >= Classes {
			return nil, fmt.Errorf("digits: train: sample %d has %d pixels and label %d, want %d pixels and 0..%d", i, len(X[i]), y[i], Pixels, Classes-1)
		}
	}
	if cfg.Epochs < 1 || cfg.BatchSize < 1 || !(cfg.LearningRate > 0) {
		return nil, fmt.Errorf("digits: train: epochs %d, batch size %d, learning rate %v: all must be positive", cfg.Epochs, cfg.BatchSize, cfg.LearningRate)
	}
	sizes := append(append([]int{Pixels}, cfg.Hidden...), Classes)
	n, err := mlpnet.New(sizes, cfg.Activation, "softmax")
	if err != nil {
		return nil, fmt.Errorf("digits: train: %w", err)
	}
	n.InputScale = 1.0 / 16
	n.Labels = Labels()
	rng := newPCG(cfg.Seed, 0)
	n.Init(func() float64 { return uniform(rng) })

	t := newTrainer(n, cfg)
	order := make([]int, len(X))
	for i := range order {
		order[i] = i
	}
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		Shuffle(rng, order)
		var loss float64
		correct := 0
		for start := 0; start < len(order); start += cfg.BatchSize {
			batch := order[start:min(start+cfg.BatchSize, len(order))]
			t.zeroGrads()
			for _, i := range batch {
				p := n.Forward(X[i], t.ws)
				loss -= math.Log(max(float64(p[y[i]]), 1e-30))
				if mlpnet.Argmax(p) == y[i] {
					correct++
				}
				t.backward(y[i])
			}
			t.step(len(batch))
		}
		if cfg.Logf != nil && (epoch%10 == 0 || epoch == 1 || epoch == cfg.Epochs) {
			cfg.Logf("epoch %3d: loss %.4f, train accuracy %.4f", epoch, loss/float64(len(X)), float64(correct)/float64(len(X)))
		}
	}
	return n, nil
}

// trainer holds the gradients and Adam's state, float64, shaped like the
// network's layers.
type trainer struct {
	n      *mlpnet.Network
	cfg    Config
	ws     *mlpnet.Workspace
	gW, gB [][]float64 // gradient sums over the batch
	mW, mB [][]float64 // Adam's first moments
	vW, vB [][]float64 // Adam's second moments
	delta  [][]float64 // ∂loss/∂(pre-activation) of each layer, one sample
	b1t    float64     // beta1^t
	b2t    float64     // beta2^t
}

func newTrainer(n *mlpnet.Network, cfg Config) *trainer {
	t := &trainer{n: n, cfg: cfg, ws: mlpnet.NewWorkspace(n), b1t: 1, b2t: 1}
	for _, L := range n.Layers {
		for _, p := range []*[][]float64{&t.gW, &t.mW, &t.vW} {
			*p = append(*p, make([]float64, len(L.W)))
		}
		for _, p := range []*[][]float64{&t.gB, &t.mB, &t.vB, &t.delta} {
			*p = append(*p, make([]float64, L.Out))
		}
	}
	return t
}

func (t *trainer) zeroGrads() {
	for l := range t.gW {
		clear(t.gW[l])
		clear(t.gB[l])
	}
}

// backward adds the gradient of one sample's cross-entropy to the sums,
// from the activations of the Forward just run in t.ws.
func (t *trainer) backward(label int) {
	n, ws := t.n, t.ws
	last := len(n.Layers) - 1
	for o, p := range ws.Output(last) { // softmax + cross-entropy: p − onehot
		t.delta[last][o] = float64(p)
		if o == label {
			t.delta[last][o] -= 1
		}
	}
	for l := last; l >= 0; l-- {
		L := &n.Layers[l]
		in := ws.Input()
		if l > 0 {
			in = ws.Output(l - 1)
		}
		d, gW, gB := t.delta[l], t.gW[l], t.gB[l]
		for o, do := range d {
			gB[o] += do
			row := gW[o*L.In : (o+1)*L.In]
			for i, a := range in {
				row[i] += float64(do * float64(a))
			}
		}
		if l == 0 {
			break
		}
		prev := t.delta[l-1]
		for i, a := range in {
			var s float64
			for o, do := range d {
				s += float64(float64(L.W[o*L.In+i]) * do)
			}
			prev[i] = float64(s * derivative(n.Activation, float64(a)))
		}
	}
}

// derivative is the activation's derivative written with its output a.
// The products of float32 values are exact in float64.
func derivative(activation string, a float64) float64 {
	switch activation {
	case "relu":
		if a > 0 {
			return 1
		}
		return 0
	case "tanh":
		return 1 - a*a
	default: // sigmoid
		return a * (1 - a)
	}
}

// step applies one Adam step with the mean gradient of a batch of size m.
func (t *trainer) step(m int) {
	t.b1t = float64(t.b1t * adamBeta1)
	t.b2t = float64(t.b2t * adamBeta2)
	c := adamStep{scale: 1 / float64(m), lr: t.cfg.LearningRate, bc1: 1 - t.b1t, bc2: 1 - t.b2t}
	for l := range t.n.Layers {
		L := &t.n.Layers[l]
		c.apply(L.W, t.gW[l], t.mW[l], t.vW[l])
		c.apply(L.B, t.gB[l], t.mB[l], t.vB[l])
	}
}

type adamStep struct{ scale, lr, bc1, bc2 float64 }

func (c adamStep) apply(w []float32, g, m, v []float64) {
	for i := range w {
		gi := float64(g[i] * c.scale)
		m[i] = float64(adamBeta1*m[i]) + float64((1-adamBeta1)*gi)
		v[i] = float64(adamBeta2*v[i]) + float64(float64((1-adamBeta2)*gi)*gi)
		mh, vh := m[i]/c.bc1, v[i]/c.bc2
		w[i] = float32(float64(w[i]) - float64(c.lr*mh)/(math.Sqrt(vh)+adamEps))
	}
}

// Accuracy returns how many samples n classifies correctly.
func Accuracy(n *mlpnet.Network, X [][]float32, y []int) int {
	ws := mlpnet.NewWorkspace(n)
	correct := 0
	for i, x := range X {
		if n.Class(n.Forward(x, ws)) == y[i] {
			correct++
		}
	}
	return correct
}

// newPCG returns math/rand/v2's PCG, whose output for a seed is specified;
// the methods of rand.Rand that draw from it (Shuffle, IntN, Float64) are
// not promised to stay the same across Go releases, so this package draws
// with its own [Shuffle] and uniform.
func newPCG(seed1, seed2 uint64) *rand.PCG { return rand.NewPCG(seed1, seed2) }

// uniform returns a float64 in [0, 1) from the top 53 bits of one draw.
func uniform(src rand.Source) float64 {
	return float64(src.Uint64()>>11) / (1 << 53)
}

// Shuffle permutes idx with the Fisher–Yates shuffle, from the last
// element down, drawing each j in [0, i] with Lemire's unbiased
// multiply-and-reject method on src.Uint64.
func Shuffle(src rand.Source, idx []int) {
	for i := len(idx) - 1; i > 0; i-- {
		j := bounded(src, uint64(i+1))
		idx[i], idx[j] = idx[j], idx[i]
	}
}

// bounded returns a uniform integer in [0, n).
func bounded(src rand.Source, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		threshold := -n % n
		for lo < threshold {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}
