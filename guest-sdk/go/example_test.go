package wasmreg_test

import (
	"encoding/json"
	"fmt"

	wasmreg "github.com/wasmreg/wasmreg/guest-sdk/go"
)

// A factory registers from init; the SDK supplies the exports. This one
// doubles numbers, and rejects a request that is not a number with return
// code 2.
func ExampleRegister() {
	wasmreg.Register(wasmreg.Info{
		Name:         "doubler",
		Version:      "1.0.0",
		Description:  "Doubles a number.",
		ConfigSchema: `{"type": "object"}`,
	}, func(config []byte) (wasmreg.Model, error) {
		return wasmreg.ModelFunc(func(in []byte) ([]byte, error) {
			var x float64
			if err := json.Unmarshal(in, &x); err != nil {
				return nil, wasmreg.Errorf(2, "request: want a number: %v", err)
			}
			return json.Marshal(2 * x)
		}), nil
	})
}

func ExampleCode() {
	err := fmt.Errorf("predict: %w", wasmreg.Error{Code: 3, Message: "bad request"})
	fmt.Println(wasmreg.Code(err), err)
	fmt.Println(wasmreg.Code(fmt.Errorf("any other error")))
	// Output:
	// 3 predict: bad request
	// 1
}

// A factory declares its tensor signature in its Info; Validate applies a
// wasmreg host's rules to it, as Register does.
func ExampleTensor() {
	info := wasmreg.Info{
		Name:    "digits",
		Version: "1.0.0",
		Inputs:  []wasmreg.Tensor{{Name: "input", Datatype: "FP32", Shape: []int64{-1, 64}}},
		Outputs: []wasmreg.Tensor{{Name: "class", Datatype: "INT64", Shape: []int64{-1}}},
	}
	fmt.Println(info.Validate())
	info.Outputs[0].Datatype = "LONG"
	fmt.Println(info.Validate())
	// Output:
	// <nil>
	// Info.Outputs[0] of "digits": tensor "class": Datatype "LONG" is not one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES
}
