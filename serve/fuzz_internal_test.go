package serve

import (
	"encoding/json"
	"testing"
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
