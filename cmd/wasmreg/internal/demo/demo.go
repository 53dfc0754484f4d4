// Package demo carries the factory module that `wasmreg run` runs when it is
// given no factory: the mlp factory, built from examples/factories/mlp with
// `make demo-assets`. It is embedded so that the binary works from any
// directory. The digits weights and held-out samples it is run on come from
// package github.com/wasmreg/wasmreg/examples/digits.
package demo

import _ "embed" // for go:embed

// MLP is the mlp factory module (WebAssembly, guest ABI v1). Treat it as
// read-only: it is shared by every caller.
//
//go:embed mlp.wasm
var MLP []byte

// FactoryName is the base name the embedded module must report in its
// metadata; anything else means the assets were not built yet.
const FactoryName = "mlp"
