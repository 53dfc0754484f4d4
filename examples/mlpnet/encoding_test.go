package mlpnet_test

import (
	"encoding/binary"
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/examples/mlpnet"
)

// encode builds a weights file by hand: magic, header length, header, then
// the float32 parameters.
func encode(header string, params ...float32) []byte {
	b := []byte(mlpnet.Magic)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
	b = append(b, header...)
	for _, p := range params {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(p))
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
		act   string
		out   string
		scale float32
		label []string
	}{
		{"digits", []int{64, 32, 10}, "relu", "softmax", 0.0625, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}},
		{"no labels", []int{3, 5, 4, 2}, "tanh", "linear", 1, nil},
		{"odd scale", []int{1, 1}, "sigmoid", "sigmoid", 1.0 / 3, []string{"yes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := randomNet(t, tc.sizes, tc.act, tc.out, 9)
			n.InputScale, n.Labels = tc.scale, tc.label
			b, err := n.MarshalBinary()
			require.NoError(t, err)
			assert.Equal(t, mlpnet.Magic, string(b[:8]))
			hlen := int(binary.LittleEndian.Uint32(b[8:12]))
			assert.Equal(t, 12+hlen+4*n.NumParams(), len(b))

			m, err := mlpnet.Decode(b)
			require.NoError(t, err)
			assert.Equal(t, n, m)

			var u mlpnet.Network
			require.NoError(t, u.UnmarshalBinary(b))
			assert.Equal(t, n, &u)

			x := make([]float32, tc.sizes[0])
			for i := range x {
				x[i] = float32(i)
			}
			assert.Equal(t, n.Forward(x, mlpnet.NewWorkspace(n)), m.Forward(x, mlpnet.NewWorkspace(m)))
		})
	}

	t.Run("hand-made file", func(t *testing.T) {
		// 2 → 1: W = [0.5, -2], B = [1]
		b := encode(`{"sizes":[2,1],"activation":"relu","output":"linear","input_scale":0.0625}`, 0.5, -2, 1)
		n, err := mlpnet.Decode(b)
		require.NoError(t, err)
		assert.Equal(t, float32(0.0625), n.InputScale)
		assert.Equal(t, []float32{0.5, -2}, n.Layers[0].W)
		assert.Equal(t, []float32{1}, n.Layers[0].B)
		assert.Equal(t, []float32{float32(1 + 0.5*1 - 2*0.5)}, n.Forward([]float32{16, 8}, mlpnet.NewWorkspace(n)))
		again, err := n.MarshalBinary()
		require.NoError(t, err)
		assert.Equal(t, b[12+len(`{"sizes":[2,1],"activation":"relu","output":"linear","input_scale":0.0625}`):], again[len(again)-12:])
	})
}

func TestDecodeMalformed(t *testing.T) {
	valid := `{"sizes":[2,1],"activation":"relu","output":"linear"}`
	good := encode(valid, 1, 2, 3)
	huge := make([]byte, 8, 12)
	copy(huge, mlpnet.Magic)
	huge = binary.LittleEndian.AppendUint32(huge, math.MaxUint32)
	tests := []struct {
		name    string
		b       []byte
		wantErr string
	}{
		{"empty", nil, "0 bytes, shorter than the 12-byte"},
		{"short", []byte("WRMLP"), "5 bytes"},
		{"bad magic", append([]byte("WRMLP\x00v2"), good[8:]...), `magic "WRMLP\x00v2"`},
		{"header length past the end", good[:20], "header length 53, but 8 bytes follow"},
		{"giant header length", huge, "header length 4294967295"},
		{"header not json", encode(`{"sizes":`, 0), "header: unexpected EOF"},
		{"unknown field", encode(`{"sizes":[2,1],"activation":"relu","output":"linear","bias":1}`, 1, 2, 3), `unknown field "bias"`},
		{"data after header", encode(valid+`{}`, 1, 2, 3), "data after the JSON object"},
		{"missing sizes", encode(`{"activation":"relu","output":"linear"}`), `field "sizes" is missing`},
		{"sizes of strings", encode(`{"sizes":["2"],"activation":"relu","output":"linear"}`), "cannot unmarshal string"},
		{"negative size", encode(`{"sizes":[2,-1],"activation":"relu","output":"linear"}`, 1), "sizes[1] is -1"},
		{"too many parameters, few bytes", encode(`{"sizes":[16777216,16777216],"activation":"relu","output":"linear"}`), "more than 16777216 parameters"},
		{"many parameters, few bytes", encode(`{"sizes":[4000,4000],"activation":"relu","output":"linear"}`, 1), "4 bytes of weights, want 64016000"},
		{"one byte short", good[:len(good)-1], "11 bytes of weights, want 12"},
		{"trailing bytes", append(append([]byte(nil), good...), 0, 0, 0, 0), "16 bytes of weights, want 12"},
		{"NaN weight", encode(valid, 1, float32(math.NaN()), 3), "layer 0 W[1] is NaN"},
		{"infinite bias", encode(valid, 1, 2, float32(math.Inf(-1))), "layer 0 B[0] is -Inf"},
		{"bad activation", encode(`{"sizes":[2,1],"activation":"swish","output":"linear"}`, 1, 2, 3), `activation "swish"`},
		{"bad output", encode(`{"sizes":[2,1],"activation":"relu","output":""}`, 1, 2, 3), `output ""`},
		{"zero input scale", encode(`{"sizes":[2,1],"activation":"relu","output":"linear","input_scale":0}`, 1, 2, 3), `"input_scale" is 0`},
		{"input scale overflows float32", encode(`{"sizes":[2,1],"activation":"relu","output":"linear","input_scale":1e300}`, 1, 2, 3), `"input_scale" is 1e+300`},
		{"wrong number of labels", encode(`{"sizes":[2,1],"activation":"relu","output":"linear","labels":["a","b"]}`, 1, 2, 3), `"labels" has 2 labels for 1 outputs`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := mlpnet.Decode(tc.b)
			require.ErrorIs(t, err, mlpnet.ErrFormat)
			assert.ErrorContains(t, err, tc.wantErr)
			assert.Nil(t, n)
		})
	}
}

func FuzzDecode(f *testing.F) {
	n := randomNet(f, []int{4, 3, 2}, "relu", "softmax", 1)
	n.InputScale, n.Labels = 0.5, []string{"a", "b"}
	valid, err := n.MarshalBinary()
	require.NoError(f, err)
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(valid[:20])
	f.Add([]byte(mlpnet.Magic))
	f.Add(encode(`{"sizes":[2,1],"activation":"relu","output":"linear"}`, 1, 2, 3))
	f.Add(encode(`{"sizes":[16777216,16777216],"activation":"relu","output":"linear"}`))
	f.Add(encode(`{"sizes":[1,1],"activation":"tanh","output":"sigmoid","input_scale":-2,"labels":["x"]}`, 1, 2))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := mlpnet.Decode(b)
		if err != nil {
			require.ErrorIs(t, err, mlpnet.ErrFormat)
			return
		}
		require.NoError(t, n.Validate())
		// What decodes encodes again to a file that decodes the same.
		again, err := n.MarshalBinary()
		require.NoError(t, err)
		m, err := mlpnet.Decode(again)
		require.NoError(t, err)
		require.Equal(t, n, m)
		if n.NumParams() < 1<<16 {
			out := n.Forward(make([]float32, n.InputSize()), mlpnet.NewWorkspace(n))
			require.Len(t, out, n.OutputSize())
		}
	})
}

func TestDecodeDoesNotTrustSizes(t *testing.T) {
	// A small file claiming a 64 MB network must fail without allocating
	// for it.
	b := encode(`{"sizes":[4096,4095],"activation":"relu","output":"linear"}`, 1, 2, 3)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		_, err := mlpnet.Decode(b)
		require.ErrorIs(t, err, mlpnet.ErrFormat)
	}
	runtime.ReadMemStats(&after)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated by 10 decodes")
}
