package main

import (
	"fmt"
	"math"
)

// point is one measurement of a sweep.
type point struct {
	n int
	r result
}

// exponent fits y = a·n^k by least squares on log-log over the points whose
// y is at least floor (below it fixed costs and noise dominate) and returns
// k, or NaN with fewer than two such points.
func exponent(ps []point, y func(result) float64, floor float64) float64 {
	var xs, ys []float64
	for _, p := range ps {
		if v := y(p.r); !p.r.failed() && v >= floor {
			xs = append(xs, math.Log(float64(p.n)))
			ys = append(ys, math.Log(v))
		}
	}
	if len(xs) < 2 {
		return math.NaN()
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(xs))
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	return sxy / sxx
}

// growth names an exponent: doubling n multiplies the cost by 2^k.
func growth(k float64) string {
	switch {
	case math.IsNaN(k):
		return "too fast to fit"
	case k < 1.2:
		return fmt.Sprintf("linear (k=%.2f)", k)
	case k < 1.6:
		return fmt.Sprintf("superlinear (k=%.2f)", k)
	case k < 2.5:
		return fmt.Sprintf("quadratic (k=%.2f)", k)
	}
	return fmt.Sprintf("worse than quadratic (k=%.2f)", k)
}

// reach estimates, from the largest successful point and the fitted
// exponent, the n at which y reaches target.
func reach(ps []point, y func(result) float64, k, target float64) float64 {
	for i := len(ps) - 1; i >= 0; i-- {
		if p := ps[i]; !p.r.failed() && y(p.r) > 0 {
			if math.IsNaN(k) || k <= 0 {
				return math.NaN()
			}
			return float64(p.n) * math.Pow(target/y(p.r), 1/k)
		}
	}
	return math.NaN()
}
