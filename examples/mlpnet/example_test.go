package mlpnet_test

import (
	"fmt"

	"github.com/wasmreg/wasmreg/examples/mlpnet"
)

func Example() {
	// A 2 → 2 → 2 network with hand-set weights.
	n, err := mlpnet.New([]int{2, 2, 2}, "relu", "softmax")
	if err != nil {
		panic(err)
	}
	copy(n.Layers[0].W, []float32{1, -1, 0.5, 2})
	copy(n.Layers[0].B, []float32{0, -1})
	copy(n.Layers[1].W, []float32{1, 1, -1, 0.5})
	copy(n.Layers[1].B, []float32{0.5, 0})
	n.Labels = []string{"left", "right"}

	b, err := n.MarshalBinary()
	if err != nil {
		panic(err)
	}
	m, err := mlpnet.Decode(b)
	if err != nil {
		panic(err)
	}
	class, probs := m.Predict([]float32{2, 1})
	fmt.Printf("%d bytes; class %d (%s), probabilities %.4f\n", len(b), class, m.Labels[class], probs)
	// Output: 158 bytes; class 0 (left), probabilities [0.9707 0.0293]
}
