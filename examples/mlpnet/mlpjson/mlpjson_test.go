package mlpjson

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fast path must accept, reject and produce exactly what encoding/json
// does.

func TestAppendFloat32MatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := []float32{0, 1, -1, 0.5, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 3.4028235e38, 1.4e-45, 0.1, 2.5e-10, 123456789}
	for range 100000 {
		values = append(values, math.Float32frombits(r.Uint32()))
	}
	for _, v := range values {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			_, ok := appendFloat32(nil, v)
			assert.False(t, ok)
			continue
		}
		want, err := json.Marshal(v)
		require.NoError(t, err)
		got, ok := appendFloat32(nil, v)
		require.True(t, ok)
		require.Equal(t, string(want), string(got), "%g", v)
	}
}

func TestAppendResultMatchesEncodingJSON(t *testing.T) {
	label := `<a&b>"\`
	for _, r := range []result{
		{Class: 3, Probabilities: []float32{0.25, 1e-9, 0.75}},
		{Class: 0, Label: &label, Values: []float32{-2.5}},
		{Class: 1},
	} {
		want, err := json.Marshal(r)
		require.NoError(t, err)
		got, ok := appendResult(nil, r)
		require.True(t, ok)
		assert.Equal(t, string(want), string(got))
	}
}

func TestParseNumbersMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`[]`, `[ ]`, `[1]`, `[1,2.5,-3e2, 0.001 ,1E+3]`, "[\t1\n,\r2 ]", `[0]`, `[-0]`,
		`[01]`, `[1.]`, `[.5]`, `[1e]`, `[+1]`, `[1,]`, `[,1]`, `[1 2]`, `[1e400]`, `[1]x`, `[1] `,
		`["1"]`, `[null]`, `[true]`, `[[1]]`, `[`, `[1`, `[1,`, `[NaN]`, `[-]`, `[1e-400]`,
	} {
		t.Run(in, func(t *testing.T) {
			var want []float64
			wantErr := json.Unmarshal([]byte(in), &want)
			got, ok := parseNumbers([]byte(in), nil)
			if wantErr != nil {
				assert.False(t, ok, "encoding/json refuses it: %v", wantErr)
				return
			}
			if !ok {
				return // left to encoding/json, which accepts it: allowed
			}
			assert.Equal(t, len(want), len(got))
			for i := range want {
				assert.Equal(t, math.Float64bits(want[i]), math.Float64bits(got[i]))
			}
		})
	}
}
