package serve

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
)

// declaredOutputs maps each datatype's values, and a sole BYTES output
// takes responses that are not JSON verbatim.
func TestDeclaredOutputsDatatypes(t *testing.T) {
	spec := func(dt string, shape ...int64) []host.TensorSpec {
		return []host.TensorSpec{{Name: "o", Datatype: dt, Shape: shape}}
	}
	tests := []struct {
		name  string
		specs []host.TensorSpec
		resps []string
		shape []int64
		data  []any
		err   string
	}{
		{"BYTES verbatim", spec("BYTES", -1), []string{"hello, Ada", "hi, {"}, []int64{2}, []any{"hello, Ada", "hi, {"}, ""},
		{"BYTES string", spec("BYTES", -1), []string{`"a"`, ` "b" `}, []int64{2}, []any{"a", "b"}, ""},
		{"BYTES number refused", spec("BYTES", -1), []string{`5`}, nil, nil, `5 is not a string (BYTES)`},
		{"BOOL", spec("BOOL", 1, 2), []string{`[true,false]`}, []int64{1, 2}, []any{true, false}, ""},
		{"UINT8 range", spec("UINT8", -1), []string{`256`}, nil, nil, `256 is not an integer in the range of UINT8`},
		{"UINT64 full range", spec("UINT64", -1), []string{`18446744073709551615`}, []int64{1}, []any{uint64(18446744073709551615)}, ""},
		{"INT64 exact", spec("INT64", -1), []string{`9007199254740993`}, []int64{1}, []any{int64(9007199254740993)}, ""},
		{"INT8 negative", spec("INT8", -1, 1), []string{`[-128]`}, []int64{1, 1}, []any{int64(-128)}, ""},
		{"FP16 range", spec("FP16", -1), []string{`70000`}, nil, nil, `70000 is out of the range of FP16`},
		{"FP32 rounded once", spec("FP32", -1), []string{`1.6168804e-7`}, []int64{1}, []any{float32(1.6168804e-7)}, ""},
		{"FP64 scalar rows", spec("FP64", -1), []string{`1.5`, `-2`}, []int64{2}, []any{1.5, -2.0}, ""},
		{"rank 3", spec("FP32", -1, 2, 1), []string{`[[1],[2]]`}, []int64{1, 2, 1}, []any{float32(1), float32(2)}, ""},
		{"rank mismatch", spec("FP32", -1), []string{`[1]`}, nil, nil, `output "o" has shape [1 1], the model's signature declares [-1]`},
		{"rows of different shapes", spec("FP32", -1, -1), []string{`[1]`, `[1,2]`}, nil, nil, `row 1: output "o" has shape [2], row 0's has [1]`},
		{"not JSON, not BYTES", spec("FP32", -1), []string{`nope`}, nil, nil, `is not JSON`},
		{"null", spec("FP32", -1), []string{`null`}, nil, nil, `null is not a value of FP32`},
		{"object field missing in a row", []host.TensorSpec{{Name: "a", Datatype: "FP32", Shape: []int64{-1}}, {Name: "b", Datatype: "FP32", Shape: []int64{-1}}},
			[]string{`{"a":1,"b":2}`, `{"a":1}`}, nil, nil, `row 1: output "b" is in some rows' responses and not in others`},
		{"no declared output", spec("FP32", -1), []string{`{}`}, nil, nil, `holds none of the outputs`},
		{"guest text escaped", spec("FP32", -1), []string{"\x1b[2J\u202e"}, nil, nil, `the response \x1b[2J\u202e is not JSON`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resps := make([][]byte, len(tc.resps))
			for i, r := range tc.resps {
				resps[i] = []byte(r)
			}
			outs, err := declaredOutputs("m", tc.specs, resps)
			if tc.err != "" {
				require.ErrorIs(t, err, ErrBadResponse)
				assert.Contains(t, err.Error(), tc.err)
				assert.Contains(t, err.Error(), `model "m"`)
				return
			}
			require.NoError(t, err)
			require.Len(t, outs, 1)
			assert.Equal(t, tc.shape, outs[0].Shape)
			assert.Equal(t, tc.data, outs[0].Data)
		})
	}
}

// contentsOf puts each datatype's values in its typed contents field.
func TestContentsOf(t *testing.T) {
	c := contentsOf(outTensor{Datatype: "INT8", Data: []any{int64(-1)}})
	assert.Equal(t, []int32{-1}, c.GetIntContents())
	c = contentsOf(outTensor{Datatype: "UINT64", Data: []any{uint64(1 << 63)}})
	assert.Equal(t, []uint64{1 << 63}, c.GetUint64Contents())
	c = contentsOf(outTensor{Datatype: "UINT16", Data: []any{uint64(7)}})
	assert.Equal(t, []uint32{7}, c.GetUintContents())
	c = contentsOf(outTensor{Datatype: "FP32", Data: []any{float32(1.6168804e-7)}})
	assert.Equal(t, []float32{1.6168804e-7}, c.GetFp32Contents())
	c = contentsOf(outTensor{Datatype: "FP16", Data: []any{0.5}})
	assert.Equal(t, []float32{0.5}, c.GetFp32Contents())
	c = contentsOf(outTensor{Datatype: "FP64", Data: []any{0.5}})
	assert.Equal(t, []float64{0.5}, c.GetFp64Contents())
	c = contentsOf(outTensor{Datatype: "BOOL", Data: []any{true}})
	assert.Equal(t, []bool{true}, c.GetBoolContents())
	c = contentsOf(outTensor{Datatype: "BYTES", Data: []any{"x"}})
	assert.Equal(t, [][]byte{[]byte("x")}, c.GetBytesContents())
}
