package mlpnet

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestExp64(t *testing.T) {
	for x := -745.0; x < 710; x += 0.37 {
		want := math.Exp(x)
		if want < 0x1p-1022 || math.IsInf(want, 0) { // subnormals lose precision in both
			continue
		}
		got := exp64(x)
		if rel := math.Abs(got-want) / want; rel > 4e-16 {
			t.Fatalf("exp64(%v) = %v, math.Exp = %v (relative error %g)", x, got, want, rel)
		}
	}
	assert.Equal(t, 1.0, exp64(0))
	assert.Equal(t, 0.0, exp64(-1000))
	assert.True(t, math.IsInf(exp64(1000), 1))
	assert.True(t, math.IsInf(exp64(math.Inf(1)), 1))
	assert.Equal(t, 0.0, exp64(math.Inf(-1)))
	assert.True(t, math.IsNaN(exp64(math.NaN())))
}

func TestTanh64(t *testing.T) {
	for x := -25.0; x < 25; x += 0.013 {
		assert.InDelta(t, math.Tanh(x), tanh64(x), 1e-15, "tanh(%v)", x)
	}
	assert.Equal(t, 1e-10, tanh64(1e-10))
	assert.True(t, math.IsNaN(tanh64(math.NaN())))
}
