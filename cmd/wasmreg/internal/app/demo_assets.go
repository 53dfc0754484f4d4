package app

import (
	"github.com/wasmreg/wasmreg/cmd/wasmreg/internal/demo"
	"github.com/wasmreg/wasmreg/examples/digits"
)

// demoAssetsFunc returns the built-in demo's assets, all embedded in the
// binary: the mlp factory from package demo, the trained weights and the
// held-out digits from package digits. Tests may replace it.
var demoAssetsFunc = func() (demoAssets, error) {
	return demoAssets{
		factory: demo.MLP,
		weights: digits.Weights,
		samples: digits.HeldOutSamples,
	}, nil
}
