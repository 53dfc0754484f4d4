package mlpnet

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Limits of the networks this package builds and decodes.
const (
	// MaxParams is the most parameters (weights and biases) a network may
	// have: 64 MiB of float32.
	MaxParams = 16 << 20
	// MaxLayers is the most dense layers a network may have.
	MaxLayers = 64
)

// ErrInvalid means a network's shape, activation or output is not one this
// package supports. Errors wrapping it name the bad value.
var ErrInvalid = errors.New("mlpnet: invalid network")

// Activations returns the names of the hidden-layer activations.
func Activations() []string { return []string{"relu", "tanh", "sigmoid"} }

// Outputs returns the names of the output functions.
func Outputs() []string { return []string{"softmax", "sigmoid", "linear"} }

// Network is a multi-layer perceptron: dense layers, an activation after
// every hidden layer and an output function after the last.
//
// A Network is safe for concurrent use by multiple goroutines as long as no
// goroutine changes it; each goroutine passes its own [Workspace] to Forward.
type Network struct {
	// Layers are the dense layers, from the input to the output; the Out of
	// one is the In of the next.
	Layers []Layer
	// Activation is applied after every hidden layer: "relu", "tanh" or
	// "sigmoid".
	Activation string
	// Output is applied after the last layer: "softmax", "sigmoid" or
	// "linear".
	Output string
	// InputScale multiplies every input before the first layer. Zero means
	// 1 (no scaling), so that a Network literal does not zero its inputs.
	InputScale float32
	// Labels optionally names the output units, one label each.
	Labels []string
}

// Layer is a dense layer: out = W·in + B. Like a Network, it is safe for
// concurrent reads; change it only when nobody else uses it.
type Layer struct {
	In, Out int
	W       []float32 // Out×In, row-major: row o holds unit o's In weights
	B       []float32 // Out
}

// New returns a network of len(sizes)-1 dense layers with zero weights:
// sizes is [inputs, hidden units…, outputs]. Call [Network.Init] to give it
// random weights. Errors wrap [ErrInvalid] and name the bad value.
func New(sizes []int, activation, output string) (*Network, error) {
	if _, err := CountParams(sizes); err != nil {
		return nil, err
	}
	if err := checkFuncs(activation, output); err != nil {
		return nil, err
	}
	n := &Network{Activation: activation, Output: output, InputScale: 1, Layers: make([]Layer, len(sizes)-1)}
	for l := range n.Layers {
		in, out := sizes[l], sizes[l+1]
		n.Layers[l] = Layer{In: in, Out: out, W: make([]float32, in*out), B: make([]float32, out)}
	}
	return n, nil
}

// CountParams checks a shape, [inputs, hidden units…, outputs], and returns
// its number of weights and biases. Errors wrap [ErrInvalid] and name the
// bad value.
func CountParams(sizes []int) (int, error) {
	if len(sizes) < 2 {
		return 0, fmt.Errorf("%w: sizes %v: want at least 2 sizes, [inputs, …, outputs]", ErrInvalid, sizes)
	}
	if len(sizes)-1 > MaxLayers {
		return 0, fmt.Errorf("%w: %d sizes make %d layers, the limit is %d", ErrInvalid, len(sizes), len(sizes)-1, MaxLayers)
	}
	for i, s := range sizes {
		if s < 1 || s > MaxParams {
			return 0, fmt.Errorf("%w: sizes[%d] is %d, want 1 to %d", ErrInvalid, i, s, MaxParams)
		}
	}
	// Each size is at most 2^24, so every product fits in an int64 and the
	// running total is checked before it can overflow.
	var total int64
	for l := 0; l+1 < len(sizes); l++ {
		total += int64(sizes[l])*int64(sizes[l+1]) + int64(sizes[l+1])
		if total > MaxParams {
			return 0, fmt.Errorf("%w: sizes %v have more than %d parameters", ErrInvalid, sizes, MaxParams)
		}
	}
	return int(total), nil
}

func checkFuncs(activation, output string) error {
	if !slices.Contains(Activations(), activation) {
		return fmt.Errorf("%w: activation %q: want one of %q", ErrInvalid, activation, Activations())
	}
	if !slices.Contains(Outputs(), output) {
		return fmt.Errorf("%w: output %q: want one of %q", ErrInvalid, output, Outputs())
	}
	return nil
}

// Validate checks that the layers chain, that every slice has its size,
// and the names of the activation and output. Errors wrap [ErrInvalid].
func (n *Network) Validate() error {
	if len(n.Layers) == 0 {
		return fmt.Errorf("%w: no layers", ErrInvalid)
	}
	if _, err := CountParams(n.Sizes()); err != nil {
		return err
	}
	for l, L := range n.Layers {
		if l > 0 && L.In != n.Layers[l-1].Out {
			return fmt.Errorf("%w: layer %d has %d inputs, layer %d has %d outputs", ErrInvalid, l, L.In, l-1, n.Layers[l-1].Out)
		}
		if len(L.W) != L.In*L.Out || len(L.B) != L.Out {
			return fmt.Errorf("%w: layer %d is %d×%d but has %d weights and %d biases", ErrInvalid, l, L.Out, L.In, len(L.W), len(L.B))
		}
	}
	if err := checkFuncs(n.Activation, n.Output); err != nil {
		return err
	}
	if s := n.InputScale; math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
		return fmt.Errorf("%w: input scale %v is not finite", ErrInvalid, s)
	}
	if n.Labels != nil && len(n.Labels) != n.OutputSize() {
		return fmt.Errorf("%w: %d labels for %d outputs", ErrInvalid, len(n.Labels), n.OutputSize())
	}
	return nil
}

// Sizes returns the shape, [inputs, hidden units…, outputs].
func (n *Network) Sizes() []int {
	if len(n.Layers) == 0 {
		return nil
	}
	sizes := []int{n.Layers[0].In}
	for _, L := range n.Layers {
		sizes = append(sizes, L.Out)
	}
	return sizes
}

// InputSize is the number of inputs Forward takes.
func (n *Network) InputSize() int { return n.Layers[0].In }

// OutputSize is the number of outputs Forward returns.
func (n *Network) OutputSize() int { return n.Layers[len(n.Layers)-1].Out }

// NumParams is the number of weights and biases.
func (n *Network) NumParams() int {
	total := 0
	for _, L := range n.Layers {
		total += len(L.W) + len(L.B)
	}
	return total
}

// Scale is the effective input scale: InputScale, or 1 if it is zero.
func (n *Network) Scale() float32 {
	if n.InputScale == 0 {
		return 1
	}
	return n.InputScale
}

// Init sets every weight from Glorot/Xavier-uniform draws and every bias to
// zero. uniform must return numbers in [0, 1); Init calls it once per
// weight, layer by layer from the input, and within a layer in W's
// row-major order (unit by unit, input by input), and sets
//
//	w = float32((2u − 1) · sqrt(6 / (In + Out)))
//
// so the same sequence of numbers gives the same network, bit for bit.
func (n *Network) Init(uniform func() float64) {
	for l := range n.Layers {
		L := &n.Layers[l]
		limit := math.Sqrt(6 / float64(L.In+L.Out))
		for i := range L.W {
			L.W[i] = float32((float64(2*uniform()) - 1) * limit)
		}
		clear(L.B)
	}
}

// Clone returns a deep copy of n.
func (n *Network) Clone() *Network {
	c := *n
	c.Labels = slices.Clone(n.Labels)
	c.Layers = make([]Layer, len(n.Layers))
	for l, L := range n.Layers {
		c.Layers[l] = Layer{In: L.In, Out: L.Out, W: slices.Clone(L.W), B: slices.Clone(L.B)}
	}
	return &c
}

// Workspace is the scratch space of Forward: the scaled input and every
// layer's output. A Workspace belongs to one network shape and is used by
// one goroutine at a time; it is not safe for concurrent use.
type Workspace struct {
	in   []float32
	outs [][]float32
}

// NewWorkspace returns a Workspace for networks shaped like n.
func NewWorkspace(n *Network) *Workspace {
	ws := &Workspace{in: make([]float32, n.InputSize()), outs: make([][]float32, len(n.Layers))}
	for l, L := range n.Layers {
		ws.outs[l] = make([]float32, L.Out)
	}
	return ws
}

// Input returns the scaled input of the last Forward, the first layer's
// input. Trainers use it with [Workspace.Output] for backpropagation.
func (ws *Workspace) Input() []float32 { return ws.in }

// Output returns layer l's output in the last Forward, after its activation
// (or, for the last layer, its output function). It is overwritten by the
// next Forward.
func (ws *Workspace) Output(l int) []float32 { return ws.outs[l] }

// Forward runs the network on x and returns its output, which lives in ws
// and is valid until the next Forward with ws. It does not allocate.
//
// Forward panics if len(x) is not the input size or ws was made for
// another shape: both are programmer errors, and checking len(x) against
// [Network.InputSize] first is how to handle untrusted input.
func (n *Network) Forward(x []float32, ws *Workspace) []float32 {
	if len(x) != n.InputSize() {
		panic(fmt.Sprintf("mlpnet: Forward: got %d inputs, want %d", len(x), n.InputSize()))
	}
	if len(ws.outs) != len(n.Layers) || len(ws.in) != len(x) {
		panic("mlpnet: Forward: workspace made for another network shape")
	}
	scale := n.Scale()
	for i, v := range x {
		ws.in[i] = v * scale
	}
	in := ws.in
	last := len(n.Layers) - 1
	for l := range n.Layers {
		L := &n.Layers[l]
		out := ws.outs[l]
		if len(out) != L.Out {
			panic("mlpnet: Forward: workspace made for another network shape")
		}
		dense(L, in, out)
		if l < last {
			activate(n.Activation, out)
		} else {
			finish(n.Output, out)
		}
		in = out
	}
	return in
}

// dense computes out = W·in + B. Four running sums per unit keep the
// floating-point pipeline busy; their order is fixed, and every product is
// rounded explicitly so that no compiler fuses it into an FMA.
func dense(L *Layer, in, out []float32) {
	nIn := L.In
	in = in[:nIn]
	for o := range out {
		row := L.W[o*nIn : o*nIn+nIn]
		var s0, s1, s2, s3 float32
		i := 0
		for ; i+4 <= len(row); i += 4 {
			w, x := row[i:i+4:i+4], in[i:i+4:i+4]
			s0 += float32(w[0] * x[0])
			s1 += float32(w[1] * x[1])
			s2 += float32(w[2] * x[2])
			s3 += float32(w[3] * x[3])
		}
		for ; i < len(row); i++ {
			s0 += float32(row[i] * in[i])
		}
		out[o] = L.B[o] + ((s0 + s1) + (s2 + s3))
	}
}

func activate(name string, v []float32) {
	switch name {
	case "relu":
		for i, x := range v {
			if x < 0 {
				v[i] = 0
			}
		}
	case "tanh":
		for i, x := range v {
			v[i] = float32(tanh64(float64(x)))
		}
	case "sigmoid":
		sigmoid(v)
	default:
		panic(fmt.Sprintf("mlpnet: unknown activation %q", name))
	}
}

func finish(name string, v []float32) {
	switch name {
	case "softmax":
		Softmax(v)
	case "sigmoid":
		sigmoid(v)
	case "linear":
	default:
		panic(fmt.Sprintf("mlpnet: unknown output %q", name))
	}
}

func sigmoid(v []float32) {
	for i, x := range v {
		v[i] = float32(1 / (1 + exp64(-float64(x))))
	}
}

// Softmax replaces v by its softmax, in place, computed in float64 after
// subtracting the maximum so that it cannot overflow.
func Softmax(v []float32) {
	if len(v) == 0 {
		return
	}
	m := v[0]
	for _, x := range v[1:] {
		if x > m {
			m = x
		}
	}
	var sum float64
	for _, x := range v {
		sum += exp64(float64(x) - float64(m))
	}
	for i, x := range v {
		v[i] = float32(exp64(float64(x)-float64(m)) / sum)
	}
}

// Argmax returns the index of the largest value, the first on ties, or -1
// for an empty slice.
func Argmax(v []float32) int {
	best := -1
	for i, x := range v {
		if best < 0 || x > v[best] {
			best = i
		}
	}
	return best
}

// Class returns the class an output of n stands for: for a single sigmoid
// output, 1 if it is at least 0.5 and 0 otherwise; else the [Argmax].
func (n *Network) Class(out []float32) int {
	if len(out) == 1 && n.Output == "sigmoid" {
		if out[0] >= 0.5 {
			return 1
		}
		return 0
	}
	return Argmax(out)
}

// Predict runs the network on x with a fresh workspace and returns the
// class ([Network.Class]) and a copy of the output. It panics, like
// Forward, if len(x) is not the input size. Use Forward with a reused
// [Workspace] in loops.
func (n *Network) Predict(x []float32) (class int, probs []float32) {
	out := n.Forward(x, NewWorkspace(n))
	return n.Class(out), slices.Clone(out)
}
