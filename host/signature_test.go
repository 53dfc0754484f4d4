package host_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
)

func TestSignatureLoaded(t *testing.T) {
	h, _ := newHost(t)
	f := load(t, h, "signature/signature.wasm")
	defer f.Close(context.Background())
	sig, ok := f.Signature()
	require.True(t, ok)
	assert.Equal(t, host.Signature{
		Inputs: []host.TensorSpec{{Name: "x", Datatype: "FP32", Shape: []int64{-1, 2}}},
		Outputs: []host.TensorSpec{
			{Name: "label", Datatype: "INT64", Shape: []int64{-1}},
			{Name: "scores", Datatype: "FP32", Shape: []int64{-1, 2}},
		},
	}, sig)

	// The result is the caller's copy, concurrently too.
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			s, _ := f.Signature()
			s.Inputs[0].Shape[1] = 99
			s.Outputs[0].Name = "changed"
		})
	}
	wg.Wait()
	again, _ := f.Signature()
	assert.Equal(t, sig, again)

	plain := load(t, h, "echo.wasm")
	defer plain.Close(context.Background())
	_, ok = plain.Signature()
	assert.False(t, ok, "echo declares no signature")
}

func TestSignatureMetadata(t *testing.T) {
	h, _ := newHost(t)
	const head = `{"name":"f","version":"1.0.0","tensors":`
	in := func(spec string) string { return `{"inputs":[` + spec + `]}` }
	good := []struct {
		name, tensors string
		want          host.Signature
	}{
		{"input only", in(`{"name":"x","datatype":"FP32","shape":[-1,64]}`),
			host.Signature{Inputs: []host.TensorSpec{{Name: "x", Datatype: "FP32", Shape: []int64{-1, 64}}}}},
		{"outputs only", `{"outputs":[{"name":"class","datatype":"INT64","shape":[-1]},{"name":"p","datatype":"FP64","shape":[-1,-1]}]}`,
			host.Signature{Outputs: []host.TensorSpec{{Name: "class", Datatype: "INT64", Shape: []int64{-1}}, {Name: "p", Datatype: "FP64", Shape: []int64{-1, -1}}}}},
		{"scalar BYTES, unicode name", in(`{"name":"текст","datatype":"BYTES","shape":[]}`),
			host.Signature{Inputs: []host.TensorSpec{{Name: "текст", Datatype: "BYTES", Shape: []int64{}}}}},
		{"same name in and out", `{"inputs":[{"name":"t","datatype":"BOOL","shape":[0]}],"outputs":[{"name":"t","datatype":"UINT8","shape":[16777216]}]}`,
			host.Signature{Inputs: []host.TensorSpec{{Name: "t", Datatype: "BOOL", Shape: []int64{0}}}, Outputs: []host.TensorSpec{{Name: "t", Datatype: "UINT8", Shape: []int64{1 << 24}}}}},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			f, err := host.ParseMetadata(h, []byte(head+tc.tensors+`}`))
			require.NoError(t, err)
			sig, ok := f.Signature()
			require.True(t, ok)
			assert.Equal(t, tc.want, sig)
		})
	}
	for _, tensors := range []string{`null`} {
		f, err := host.ParseMetadata(h, []byte(head+tensors+`}`))
		require.NoError(t, err)
		_, ok := f.Signature()
		assert.False(t, ok, "tensors %s", tensors)
	}

	seventeen := strings.Repeat(`{"name":"o","datatype":"FP32","shape":[]},`, 17)
	const datatypes = `"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"`
	const dimRange = "-1 (variable) or 0 to 16777216"
	bad := []struct {
		name, tensors string
		want          []string // every problem, after "wasmreg_info: tensors"
	}{
		{"not an object", `[]`, []string{`: must be a JSON object such as {"inputs": [...], "outputs": [...]}, not an array`}},
		{"empty", `{}`, []string{`: declares no tensor: give "inputs" or "outputs", or leave the field out`}},
		{"empty lists", `{"inputs":[],"outputs":[]}`, []string{`: declares no tensor: give "inputs" or "outputs", or leave the field out`}},
		{"unknown key", `{"input":[]}`, []string{`: unknown field "input" (fields are "inputs", "outputs")`}},
		{"key in capitals", `{"Inputs":[]}`, []string{`: unknown field "Inputs": did you mean "inputs"? Field names are matched exactly`}},
		{"duplicate key", `{"inputs":[],"inputs":[]}`, []string{`: field "inputs" appears 2 times; give it once`}},
		{"inputs not an array", `{"inputs":{}}`, []string{`.inputs: must be an array of tensors, not an object`}},
		{"inputs null", `{"inputs":null}`, []string{`.inputs: must be an array of tensors, not null`}},
		{"two inputs", in(`{"name":"a","datatype":"FP32","shape":[]},{"name":"b","datatype":"FP32","shape":[]}`), []string{`.inputs: declares 2 tensors, at most 1`}},
		{"17 outputs", `{"outputs":[` + strings.TrimSuffix(seventeen, ",") + `]}`, []string{
			`.outputs: declares 17 tensors, at most 16`,
			`.outputs[1].name: "o" is declared twice (also outputs[0])`, // and 15 more
		}},
		{"tensor not an object", in(`"x"`), []string{`.inputs[0]: must be a JSON object such as {"name": "input", "datatype": "FP32", "shape": [-1, 64]}, not a string`}},
		{"unknown tensor field", in(`{"name":"x","datatype":"FP32","shape":[],"dims":[]}`), []string{`.inputs[0]: unknown field "dims" (fields are "name", "datatype", "shape")`}},
		{"tensor field twice", in(`{"name":"x","name":"y","datatype":"FP32","shape":[]}`), []string{`.inputs[0]: field "name" appears 2 times; give it once`}},
		{"no name", in(`{"datatype":"FP32","shape":[]}`), []string{`.inputs[0]: field "name" is required`}},
		{"no datatype", in(`{"name":"x","shape":[]}`), []string{`.inputs[0]: field "datatype" is required`}},
		{"no shape", in(`{"name":"x","datatype":"FP32"}`), []string{`.inputs[0]: field "shape" is required`}},
		{"empty name", in(`{"name":"","datatype":"FP32","shape":[]}`), []string{`.inputs[0].name: "": empty`}},
		{"name not a string", in(`{"name":1,"datatype":"FP32","shape":[]}`), []string{`.inputs[0].name: must be a string, not a number`}},
		{"overlong name", in(`{"name":"` + strings.Repeat("n", 129) + `","datatype":"FP32","shape":[]}`), []string{`.inputs[0].name: "` + strings.Repeat("n", 48) + `\u2026": 129 bytes, at most 128`}},
		{"control char in name", in(`{"name":"a\nb","datatype":"FP32","shape":[]}`), []string{`.inputs[0].name: "a\nb": control character U+000A at byte 1`}},
		{"C1 control in name", in(`{"name":"a\u0085","datatype":"FP32","shape":[]}`), []string{`.inputs[0].name: "a\u0085": control character U+0085 at byte 1`}},
		{"invalid UTF-8 name", in("{\"name\":\"a\xff\",\"datatype\":\"FP32\",\"shape\":[]}"), []string{`: not valid UTF-8`}},
		{"duplicate output", `{"outputs":[{"name":"o","datatype":"FP32","shape":[]},{"name":"o","datatype":"FP64","shape":[]}]}`, []string{`.outputs[1].name: "o" is declared twice (also outputs[0])`}},
		{"bad datatype", in(`{"name":"x","datatype":"FLOAT32","shape":[]}`), []string{`.inputs[0].datatype (tensor "x"): "FLOAT32" is not one of ` + datatypes}},
		{"datatype lowercase", in(`{"name":"x","datatype":"fp32","shape":[]}`), []string{`.inputs[0].datatype (tensor "x"): "fp32" is not one of ` + datatypes}},
		{"datatype not a string", in(`{"name":"x","datatype":32,"shape":[]}`), []string{`.inputs[0].datatype (tensor "x"): must be a string, not a number`}},
		{"shape not an array", in(`{"name":"x","datatype":"FP32","shape":64}`), []string{`.inputs[0].shape (tensor "x"): must be an array of integers (-1 for a variable dimension), not a number`}},
		{"shape null", in(`{"name":"x","datatype":"FP32","shape":null}`), []string{`.inputs[0].shape (tensor "x"): must be an array of integers (-1 for a variable dimension), not null`}},
		{"fractional dim", in(`{"name":"x","datatype":"FP32","shape":[1.5]}`), []string{`.inputs[0].shape[0] (tensor "x"): 1.5 is not an integer from -1 (variable) to 16777216`}},
		{"float-spelled dim", in(`{"name":"x","datatype":"FP32","shape":[64.0]}`), []string{`.inputs[0].shape[0] (tensor "x"): 64.0 is not an integer from -1 (variable) to 16777216`}},
		{"dim not a number", in(`{"name":"x","datatype":"FP32","shape":["64"]}`), []string{`.inputs[0].shape[0] (tensor "x"): must be an integer (-1 for a variable dimension), not a string`}},
		{"dim below -1", in(`{"name":"x","datatype":"FP32","shape":[-1,-2]}`), []string{`.inputs[0].shape[1] (tensor "x"): -2 is not ` + dimRange}},
		{"dim too large", in(`{"name":"x","datatype":"FP32","shape":[16777217]}`), []string{`.inputs[0].shape[0] (tensor "x"): 16777217 is not ` + dimRange}},
		{"dim overflows int64", in(`{"name":"x","datatype":"FP32","shape":[99999999999999999999]}`), []string{`.inputs[0].shape[0] (tensor "x"): 99999999999999999999 is not an integer from -1 (variable) to 16777216`}},
		{"17 dims", in(`{"name":"x","datatype":"FP32","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}`), []string{`.inputs[0].shape (tensor "x"): has 17 dimensions, at most 16`}},
		// Every problem at once, each naming its tensor and field.
		{"many", `{"inputs":[{"name":"x","datatype":"FP99","shape":[-2,1.5]}],"outputs":[{"datatype":"FP32","shape":[1]},{"name":"y","datatype":"FP32","shape":{}},{"name":"y","datatype":"INT64","shape":[]}],"extra":1}`, []string{
			`: unknown field "extra" (fields are "inputs", "outputs")`,
			`.inputs[0].datatype (tensor "x"): "FP99" is not one of ` + datatypes,
			`.inputs[0].shape[0] (tensor "x"): -2 is not ` + dimRange,
			`.inputs[0].shape[1] (tensor "x"): 1.5 is not an integer from -1 (variable) to 16777216`,
			`.outputs[0]: field "name" is required`,
			`.outputs[1].shape (tensor "y"): must be an array of integers (-1 for a variable dimension), not an object`,
		}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := host.ParseMetadata(h, []byte(head+tc.tensors+`}`))
			require.ErrorIs(t, err, host.ErrBadMetadata)
			assert.Contains(t, err.Error(), `module f@1.0.0`)
			var me *host.ModuleError
			require.ErrorAs(t, err, &me)
			got := make([]string, len(me.Problems))
			for i, p := range me.Problems {
				assert.ErrorIs(t, p, host.ErrBadMetadata)
				got[i] = strings.TrimPrefix(p.Error(), "host: bad metadata: wasmreg_info: tensors")
			}
			if tc.name == "17 outputs" {
				require.Len(t, got, 17)
				got = got[:2]
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// A factory whose signature is bad is refused at Load, naming it.
func TestSignatureRefusedAtLoad(t *testing.T) {
	h, _ := newHost(t)
	wasm := fixture(t, "signature/signature.wasm")
	// Same length, so the fixture's metadata length still holds.
	bad := strings.Replace(string(wasm), `"datatype":"INT64"`, `"datatype":"INT65"`, 1)
	require.NotEqual(t, string(wasm), bad)
	_, err := h.Load(context.Background(), []byte(bad))
	require.ErrorIs(t, err, host.ErrBadMetadata)
	assert.Contains(t, err.Error(), `wasmreg_info: tensors.outputs[0].datatype (tensor "label"): "INT65" is not one of "BOOL", "UINT8"`)
	assert.Contains(t, err.Error(), `module sigecho@1.0.0`)
}

func ExampleFactory_Signature() {
	ctx := context.Background()
	h, _ := host.New(ctx)
	defer h.Close(ctx)
	wasm, _ := os.ReadFile("testdata/signature/signature.wasm")
	f, err := h.Load(ctx, wasm)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close(ctx)
	if sig, ok := f.Signature(); ok {
		for _, t := range sig.Inputs {
			fmt.Println("input", t.Name, t.Datatype, t.Shape)
		}
		for _, t := range sig.Outputs {
			fmt.Println("output", t.Name, t.Datatype, t.Shape)
		}
	}
	// Output:
	// input x FP32 [-1 2]
	// output label INT64 [-1]
	// output scores FP32 [-1 2]
}
