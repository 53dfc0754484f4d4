package mlpnet_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/examples/mlpnet"
)

// uniformFrom returns a deterministic source of [0, 1) numbers.
func uniformFrom(seed uint64) func() float64 {
	r := rand.New(rand.NewPCG(seed, 0))
	return r.Float64
}

func randomNet(t testing.TB, sizes []int, activation, output string, seed uint64) *mlpnet.Network {
	t.Helper()
	n, err := mlpnet.New(sizes, activation, output)
	require.NoError(t, err)
	n.Init(uniformFrom(seed))
	for l := range n.Layers { // non-zero biases, so that tests see them
		for i := range n.Layers[l].B {
			n.Layers[l].B[i] = float32(i%3) * 0.1
		}
	}
	return n
}

func TestNew(t *testing.T) {
	tests := []struct {
		name       string
		sizes      []int
		activation string
		output     string
		wantErr    string // empty: no error
	}{
		{"digits", []int{64, 32, 10}, "relu", "softmax", ""},
		{"no hidden layer", []int{4, 3}, "tanh", "linear", ""},
		{"deep", []int{8, 16, 16, 16, 1}, "sigmoid", "sigmoid", ""},
		{"one size", []int{4}, "relu", "softmax", "want at least 2 sizes"},
		{"no sizes", nil, "relu", "softmax", "want at least 2 sizes"},
		{"zero width", []int{64, 0, 10}, "relu", "softmax", "sizes[1] is 0"},
		{"negative width", []int{-3, 10}, "relu", "softmax", "sizes[0] is -3"},
		{"too wide", []int{64, mlpnet.MaxParams + 1}, "relu", "softmax", "sizes[1] is 16777217"},
		{"too many params", []int{4096, 4097}, "relu", "softmax", "more than 16777216 parameters"},
		{"too many layers", make([]int, mlpnet.MaxLayers+2), "relu", "softmax", "the limit is 64"},
		{"bad activation", []int{2, 2}, "gelu", "softmax", `activation "gelu"`},
		{"bad output", []int{2, 2}, "relu", "softplus", `output "softplus"`},
		{"output as activation", []int{2, 2}, "softmax", "softmax", `activation "softmax"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := mlpnet.New(tc.sizes, tc.activation, tc.output)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, mlpnet.ErrInvalid)
				assert.ErrorContains(t, err, tc.wantErr)
				assert.Nil(t, n)
				return
			}
			require.NoError(t, err)
			require.NoError(t, n.Validate())
			assert.Equal(t, tc.sizes, n.Sizes())
			assert.Equal(t, float32(1), n.InputScale)
		})
	}
}

func TestShapes(t *testing.T) {
	n := randomNet(t, []int{64, 32, 10}, "relu", "softmax", 1)
	require.Len(t, n.Layers, 2)
	assert.Equal(t, mlpnet.Layer{In: 64, Out: 32, W: n.Layers[0].W, B: n.Layers[0].B}, n.Layers[0])
	assert.Len(t, n.Layers[0].W, 32*64)
	assert.Len(t, n.Layers[0].B, 32)
	assert.Len(t, n.Layers[1].W, 10*32)
	assert.Len(t, n.Layers[1].B, 10)
	assert.Equal(t, 64*32+32+32*10+10, n.NumParams())
	assert.Equal(t, 64, n.InputSize())
	assert.Equal(t, 10, n.OutputSize())

	ws := mlpnet.NewWorkspace(n)
	out := n.Forward(make([]float32, 64), ws)
	assert.Len(t, out, 10)
	assert.Len(t, ws.Output(0), 32)
	assert.Len(t, ws.Input(), 64)
}

// handNet is 2 → 2 → 2 with weights small enough to run by hand:
//
//	hidden = relu([[1, -1], [0.5, 2]]·x + [0, -1])
//	out    = [[1, 1], [-1, 0.5]]·hidden + [0.5, 0]
func handNet(t *testing.T, output string) *mlpnet.Network {
	t.Helper()
	n, err := mlpnet.New([]int{2, 2, 2}, "relu", output)
	require.NoError(t, err)
	copy(n.Layers[0].W, []float32{1, -1, 0.5, 2})
	copy(n.Layers[0].B, []float32{0, -1})
	copy(n.Layers[1].W, []float32{1, 1, -1, 0.5})
	copy(n.Layers[1].B, []float32{0.5, 0})
	return n
}

func TestForwardKnownValues(t *testing.T) {
	softmax2 := func(a, b float64) []float32 {
		ea, eb := math.Exp(a), math.Exp(b)
		return []float32{float32(ea / (ea + eb)), float32(eb / (ea + eb))}
	}
	sig := func(z float64) float32 { return float32(1 / (1 + math.Exp(-z))) }
	tests := []struct {
		name   string
		output string
		scale  float32
		x      []float32
		want   []float32
	}{
		// hidden = relu([2-1, 1+2-1]) = [1, 2]; out = [1+2+0.5, -1+1] = [3.5, 0]
		{"linear", "linear", 1, []float32{2, 1}, []float32{3.5, 0}},
		// hidden = relu([1-3, 0.5+6-1]) = [0, 5.5]; out = [6, 2.75]
		{"relu clips", "linear", 1, []float32{1, 3}, []float32{6, 2.75}},
		{"input scale", "linear", 0.5, []float32{4, 2}, []float32{3.5, 0}},
		{"zero scale means 1", "linear", 0, []float32{2, 1}, []float32{3.5, 0}},
		{"softmax", "softmax", 1, []float32{2, 1}, softmax2(3.5, 0)},
		{"sigmoid", "sigmoid", 1, []float32{1, 3}, []float32{sig(6), sig(2.75)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := handNet(t, tc.output)
			n.InputScale = tc.scale
			got := n.Forward(tc.x, mlpnet.NewWorkspace(n))
			assert.InDeltaSlice(t, tc.want, got, 1e-6)
		})
	}

	t.Run("hidden activations", func(t *testing.T) {
		for _, tc := range []struct {
			activation string
			f          func(float64) float64
		}{
			{"tanh", math.Tanh},
			{"sigmoid", func(z float64) float64 { return 1 / (1 + math.Exp(-z)) }},
		} {
			n := handNet(t, "linear")
			n.Activation = tc.activation
			h0, h1 := tc.f(1), tc.f(2) // pre-activations for x = [2, 1]
			want := []float32{float32(h0 + h1 + 0.5), float32(-h0 + 0.5*h1)}
			assert.InDeltaSlice(t, want, n.Forward([]float32{2, 1}, mlpnet.NewWorkspace(n)), 1e-6, tc.activation)
		}
	})
}

func TestSoftmax(t *testing.T) {
	tests := []struct {
		name string
		in   []float32
	}{
		{"small", []float32{1, 2, 3}},
		{"equal", []float32{5, 5, 5, 5}},
		{"huge logits", []float32{1000, -1000, 999}},
		{"one", []float32{-7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := append([]float32(nil), tc.in...)
			mlpnet.Softmax(v)
			var sum float64
			for _, p := range v {
				require.False(t, math.IsNaN(float64(p)))
				assert.GreaterOrEqual(t, p, float32(0))
				assert.LessOrEqual(t, p, float32(1))
				sum += float64(p)
			}
			assert.InDelta(t, 1, sum, 1e-6)
			assert.Equal(t, mlpnet.Argmax(tc.in), mlpnet.Argmax(v), "softmax keeps the order")
		})
	}
	mlpnet.Softmax(nil) // no panic

	t.Run("network outputs", func(t *testing.T) {
		n := randomNet(t, []int{64, 32, 10}, "relu", "softmax", 7)
		ws := mlpnet.NewWorkspace(n)
		r := rand.New(rand.NewPCG(3, 3))
		for range 100 {
			x := make([]float32, 64)
			for i := range x {
				x[i] = float32(r.IntN(17))
			}
			var sum float64
			for _, p := range n.Forward(x, ws) {
				sum += float64(p)
			}
			assert.InDelta(t, 1, sum, 1e-5)
		}
	})
}

func TestArgmaxAndClass(t *testing.T) {
	assert.Equal(t, -1, mlpnet.Argmax(nil))
	assert.Equal(t, 1, mlpnet.Argmax([]float32{0, 3, 3, 1}), "first of ties")
	sig, err := mlpnet.New([]int{1, 1}, "relu", "sigmoid")
	require.NoError(t, err)
	assert.Equal(t, 1, sig.Class([]float32{0.5}))
	assert.Equal(t, 0, sig.Class([]float32{0.49}))

	sig.Layers[0].W[0] = 3
	class, probs := sig.Predict([]float32{1})
	assert.Equal(t, 1, class)
	assert.InDelta(t, 1/(1+math.Exp(-3)), probs[0], 1e-6)
	class, _ = sig.Predict([]float32{-1})
	assert.Equal(t, 0, class)
}

func TestInitDeterminism(t *testing.T) {
	a := randomNet(t, []int{64, 32, 10}, "relu", "softmax", 42)
	b := randomNet(t, []int{64, 32, 10}, "relu", "softmax", 42)
	c := randomNet(t, []int{64, 32, 10}, "relu", "softmax", 43)
	assert.Equal(t, a, b, "same source, same network")
	assert.NotEqual(t, a.Layers[0].W, c.Layers[0].W, "another seed, other weights")

	t.Run("glorot bounds and zero biases", func(t *testing.T) {
		n, err := mlpnet.New([]int{64, 32, 10}, "relu", "softmax")
		require.NoError(t, err)
		n.Layers[1].B[3] = 9
		n.Init(uniformFrom(1))
		for l, L := range n.Layers {
			limit := float32(math.Sqrt(6 / float64(L.In+L.Out)))
			for _, w := range L.W {
				require.LessOrEqual(t, w, limit, "layer %d", l)
				require.GreaterOrEqual(t, w, -limit, "layer %d", l)
			}
			assert.Equal(t, make([]float32, L.Out), L.B, "layer %d biases", l)
		}
	})

	t.Run("documented order", func(t *testing.T) {
		n, err := mlpnet.New([]int{2, 3, 1}, "relu", "linear")
		require.NoError(t, err)
		draws := []float64{0, 0.25, 0.5, 0.75, 0.125, 0.375, 0.625, 0.875, 0.5}
		i := 0
		n.Init(func() float64 { u := draws[i]; i++; return u })
		assert.Equal(t, len(draws), i, "one draw per weight")
		lim0, lim1 := math.Sqrt(6.0/5), math.Sqrt(6.0/4)
		want0 := make([]float32, 6)
		for k := range want0 {
			want0[k] = float32((2*draws[k] - 1) * lim0)
		}
		assert.Equal(t, want0, n.Layers[0].W, "layer 0 first, row-major")
		assert.Equal(t, []float32{float32(0.25 * lim1), float32(0.75 * lim1), 0}, n.Layers[1].W)
	})
}

func TestForwardDoesNotAllocate(t *testing.T) {
	n := randomNet(t, []int{64, 32, 10}, "tanh", "softmax", 1)
	ws := mlpnet.NewWorkspace(n)
	x := make([]float32, 64)
	allocs := testing.AllocsPerRun(100, func() { n.Forward(x, ws) })
	assert.Zero(t, allocs)
}

func TestForwardPanicsOnMisuse(t *testing.T) {
	n := randomNet(t, []int{4, 3, 2}, "relu", "softmax", 1)
	ws := mlpnet.NewWorkspace(n)
	assert.PanicsWithValue(t, "mlpnet: Forward: got 3 inputs, want 4", func() { n.Forward(make([]float32, 3), ws) })
	other := randomNet(t, []int{4, 5, 2}, "relu", "softmax", 1)
	assert.Panics(t, func() { n.Forward(make([]float32, 4), mlpnet.NewWorkspace(other)) })
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(n *mlpnet.Network)
		wantErr string
	}{
		{"no layers", func(n *mlpnet.Network) { n.Layers = nil }, "no layers"},
		{"layers do not chain", func(n *mlpnet.Network) { n.Layers[1].In = 5 }, "layer 1 has 5 inputs, layer 0 has 3 outputs"},
		{"short W", func(n *mlpnet.Network) { n.Layers[0].W = n.Layers[0].W[:5] }, "layer 0 is 3×4 but has 5 weights"},
		{"bad activation", func(n *mlpnet.Network) { n.Activation = "" }, `activation ""`},
		{"NaN scale", func(n *mlpnet.Network) { n.InputScale = float32(math.NaN()) }, "input scale NaN"},
		{"labels", func(n *mlpnet.Network) { n.Labels = []string{"a"} }, "1 labels for 2 outputs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := randomNet(t, []int{4, 3, 2}, "relu", "softmax", 1)
			tc.mutate(n)
			err := n.Validate()
			require.ErrorIs(t, err, mlpnet.ErrInvalid)
			assert.ErrorContains(t, err, tc.wantErr)
			_, err = n.MarshalBinary()
			assert.ErrorIs(t, err, mlpnet.ErrInvalid, "MarshalBinary validates")
		})
	}
}

func TestClone(t *testing.T) {
	n := randomNet(t, []int{4, 3, 2}, "relu", "softmax", 1)
	n.Labels = []string{"no", "yes"}
	c := n.Clone()
	require.Equal(t, n, c)
	c.Layers[0].W[0]++
	c.Labels[0] = "x"
	assert.NotEqual(t, n.Layers[0].W[0], c.Layers[0].W[0])
	assert.Equal(t, "no", n.Labels[0])
}
