package mlpnet

import "math"

// exp64 is e**x, the standard library's portable algorithm (FreeBSD's
// e_exp.c, as in math/exp.go) with every product rounded explicitly. The
// standard library uses assembly on amd64 and arm64 and this algorithm
// elsewhere, and the results differ in the last bit; owning it makes
// softmax and sigmoid give the same bits natively and in wasm.
func exp64(x float64) float64 {
	const (
		ln2Hi = 6.93147180369123816490e-01
		ln2Lo = 1.90821492927058770002e-10
		log2e = 1.44269504088896338700e+00

		overflow  = 7.09782712893383973096e+02
		underflow = -7.45133219101941108420e+02
		nearZero  = 1.0 / (1 << 28)

		p1 = 1.66666666666666657415e-01
		p2 = -2.77777777770155933842e-03
		p3 = 6.61375632143793436117e-05
		p4 = -1.65339022054652515390e-06
		p5 = 4.13813679705723846039e-08
	)
	switch {
	case math.IsNaN(x):
		return x
	case x > overflow:
		return math.Inf(1)
	case x < underflow:
		return 0
	case -nearZero < x && x < nearZero:
		return 1 + x
	}
	var k int
	switch {
	case x < 0:
		k = int(float64(log2e*x) - 0.5)
	case x > 0:
		k = int(float64(log2e*x) + 0.5)
	}
	hi := x - float64(float64(k)*ln2Hi)
	lo := float64(float64(k) * ln2Lo)

	r := hi - lo
	t := float64(r * r)
	c := r - float64(t*(p1+float64(t*(p2+float64(t*(p3+float64(t*(p4+float64(t*p5)))))))))
	y := 1 - ((lo - float64(r*c)/(2-c)) - hi)
	return math.Ldexp(y, k)
}

// tanh64 is tanh(x) from exp64, for the same reason. Its absolute error is
// a few units of float64's last place, far below float32's.
func tanh64(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return x
	case x > 20:
		return 1
	case x < -20:
		return -1
	case -1.0/(1<<28) < x && x < 1.0/(1<<28):
		return x
	}
	e := exp64(2 * x)
	return (e - 1) / (e + 1)
}
