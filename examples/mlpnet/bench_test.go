package mlpnet_test

import (
	"testing"

	"github.com/wasmreg/wasmreg/examples/mlpnet"
)

// BenchmarkForwardDigits is one prediction of the digits model's shape,
// 64 → 32 relu → 10 softmax.
func BenchmarkForwardDigits(b *testing.B) {
	n := randomNet(b, []int{64, 32, 10}, "relu", "softmax", 1)
	n.InputScale = 1.0 / 16
	ws := mlpnet.NewWorkspace(n)
	x := make([]float32, 64)
	for i := range x {
		x[i] = float32(i % 17)
	}
	b.ReportAllocs()
	for b.Loop() {
		n.Forward(x, ws)
	}
}

// BenchmarkDense256 is one 256×256 dense layer with a linear output: the
// native baseline of docs/PERFORMANCE.md. It reports multiply-adds per
// second.
func BenchmarkDense256(b *testing.B) {
	n := randomNet(b, []int{256, 256}, "relu", "linear", 1)
	ws := mlpnet.NewWorkspace(n)
	x := make([]float32, 256)
	for i := range x {
		x[i] = float32(i) / 256
	}
	b.ReportAllocs()
	for b.Loop() {
		n.Forward(x, ws)
	}
	b.ReportMetric(float64(256*256)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
}
