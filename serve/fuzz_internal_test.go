package serve

import (
	"encoding/json"
	"testing"

	"github.com/wasmreg/wasmreg/host"
)

// FuzzTensor feeds hostile request bodies to the tensor decoder: it must
// return requests or an error, never panic or allocate past the limits.
func FuzzTensor(f *testing.F) {
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["a"]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[4294967296,4294967296],"datatype":"INT8","data":[1]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var req inferRequest
		if json.Unmarshal(body, &req) != nil || len(req.Inputs) != 1 {
			return
		}
		reqs, _, err := rowRequests("m", req.Inputs[0])
		if err == nil && len(reqs) > maxElements {
			t.Fatalf("%d requests", len(reqs))
		}
	})
}

// FuzzRawTensor: the gRPC raw_input_contents decoder never panics, and
// what it accepts is a JSON array of exactly n elements.
func FuzzRawTensor(f *testing.F) {
	f.Add("FP32", 2, []byte{0, 0, 128, 63, 0, 0, 0, 64})
	f.Add("BYTES", 2, []byte{2, 0, 0, 0, 'z', 'a', 1, 0, 0, 0, 'z'})
	f.Add("FP16", 1, []byte{0, 0x3c})
	f.Add("BOOL", 1, []byte{1})
	f.Fuzz(func(t *testing.T, dt string, n int, raw []byte) {
		if n < 0 || n > 1<<12 {
			return
		}
		data, err := rawData(dt, n, raw)
		if err != nil {
			return
		}
		var vals []json.RawMessage
		if err := json.Unmarshal(data, &vals); err != nil || len(vals) != n {
			t.Fatalf("rawData(%q, %d) = %s: not %d elements (%v)", dt, n, data, n, err)
		}
	})
}

// FuzzDeclaredOutputs: hostile factory responses, mapped to declared
// outputs, give tensors whose data fills their shape, or an error.
func FuzzDeclaredOutputs(f *testing.F) {
	f.Add([]byte(`{"label":3,"scores":[0.25,0.75]}`), []byte(`{"scores":[1,2]}`))
	f.Add([]byte(`[[1,2],[3]]`), []byte(`7`))
	f.Add([]byte(`{"label":1e400}`), []byte(`{"label":-0}`))
	specs := []host.TensorSpec{{Name: "label", Datatype: "INT64", Shape: []int64{-1}}, {Name: "scores", Datatype: "FP32", Shape: []int64{-1, -1}}}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		for _, sp := range [][]host.TensorSpec{specs, specs[1:]} {
			if _, err := declaredOutputs("m", sp, nil); err != nil {
				t.Fatalf("an empty batch: %v", err)
			}
			outs, err := declaredOutputs("m", sp, [][]byte{a, b})
			if err != nil {
				continue
			}
			for _, o := range outs {
				n := int64(1)
				for _, d := range o.Shape {
					n *= d
				}
				if n != int64(len(o.Data)) {
					t.Fatalf("output %q: shape %v, %d values", o.Name, o.Shape, len(o.Data))
				}
			}
		}
	})
}
