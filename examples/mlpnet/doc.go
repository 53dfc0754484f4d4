// Package mlpnet is a small multi-layer perceptron in pure Go (standard
// library only, no unsafe, no cgo), for float32 inference and for training
// programs that need direct access to the weights. It compiles for every Go
// port, GOOS=wasip1 included: the mlp example factory, the digits trainer and
// the native performance baselines all use it.
//
// A [Network] is a stack of dense [Layer]s. Hidden layers apply
// [Network.Activation] ("relu", "tanh" or "sigmoid"); the last layer applies
// [Network.Output] ("softmax", "sigmoid" or "linear"). Inputs are multiplied
// by [Network.InputScale] before the first layer, so a model trained on
// pixels in 0..1 can be sent raw 0..16 pixel values.
//
// # Determinism
//
// Every result is a pure function of the weights and the input, bit for bit,
// on every platform: sums run in a fixed order, products are rounded
// explicitly (float32(x*y)) so that no compiler fuses them into FMA
// instructions, and exp is this package's own (the standard library's
// assembly versions differ in the last bit between amd64, arm64 and the
// portable Go used for wasm). A factory in a wasm sandbox and native Go
// therefore give the same probabilities, not merely the same classes.
//
// # Binary format, version 1
//
// [Network.MarshalBinary] writes and [Decode] reads (all integers and floats
// little-endian):
//
//	magic        8 bytes   "WRMLP\x00v1"
//	header_len   uint32    length of the JSON header, at most 1 MiB
//	header       JSON      {"sizes":[64,32,10],"activation":"relu","output":"softmax",
//	                        "input_scale":0.0625,"labels":["0",…,"9"]}
//	for each layer l = 0 … len(sizes)-2, In = sizes[l], Out = sizes[l+1]:
//	  W          Out×In float32, row-major (row o holds the In weights of unit o)
//	  B          Out float32
//
// "input_scale" is optional (default 1; it must be finite and non-zero) and
// "labels" is optional (one string per output unit). Unknown header fields
// are refused. The file ends right after the last B: trailing bytes are an
// error. Decode checks every size against the bytes that remain and against
// [MaxParams] before it allocates, and refuses non-finite weights, so hostile
// input yields an error wrapping [ErrFormat], never a panic or a huge
// allocation.
//
// # Concurrency
//
// A Network is safe for concurrent use by multiple goroutines as long as
// nobody changes it: Forward keeps its scratch space in the [Workspace] the
// caller passes, and a Workspace is used by one goroutine at a time.
package mlpnet
