package main

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReport(t *testing.T) {
	in := `goos: linux
BenchmarkBuild/wat/wasmreg-2         	    2000	     20900 ns/op	   92335 B/op	      48 allocs/op
BenchmarkBuild/wat/raw-wazero-2      	    2000	     20000 ns/op	   79393 B/op	      29 allocs/op
BenchmarkBuild/wat/wasmreg-2         	    2000	     21100 ns/op	   92335 B/op	      48 allocs/op
BenchmarkDense/wasmreg-2   	    10	     3000 ns/op
BenchmarkDense/native-2   	    10	     1000 ns/op
BenchmarkCall/wasmreg-2   	    10	     1000 ns/op
BenchmarkCall/extism-2   	    10	     25000 ns/op
BenchmarkAlone-2   	    10	     1000 ns/op
PASS
`
	var out strings.Builder
	results, err := read(strings.NewReader(in), &out)
	require.NoError(t, err)
	assert.Equal(t, in, out.String(), "input passes through")
	assert.InDelta(t, 21000, results[key{"BenchmarkBuild/wat/wasmreg", 2}], 0.1, "repeated runs are averaged")
	r := report(results)
	assert.Contains(t, r, "BenchmarkBuild/wat ")
	assert.Contains(t, r, "ratio 1.05x")
	assert.Contains(t, r, "ratio 3.00x")
	assert.NotContains(t, r, "Alone")
	assert.Contains(t, r, "ratio 0.04x (wasmreg 25.0x faster)")
	assert.NotContains(t, r, "scaling")
	assert.Contains(t, report(map[key]float64{}), "no wasmreg/baseline pairs")
}

func TestReportScaling(t *testing.T) {
	in := `BenchmarkBuildParallel/wasmreg     	    2000	     20000 ns/op
BenchmarkBuildParallel/raw-wazero  	    2000	     10000 ns/op
BenchmarkBuildParallel/wasmreg-2   	    2000	     10500 ns/op
BenchmarkBuildParallel/raw-wazero-2	    2000	      8000 ns/op
BenchmarkLookup      	    2000	     15 ns/op
BenchmarkLookup-2    	    2000	     15 ns/op
`
	results, err := read(strings.NewReader(in), io.Discard)
	require.NoError(t, err)
	assert.Len(t, results, 6, "one result per benchmark and cpu count")
	r := report(results)
	assert.Contains(t, r, "BenchmarkBuildParallel (1 cpu)")
	assert.Contains(t, r, "ratio 2.00x", "pairs are compared at the same cpu count")
	assert.Contains(t, r, "ratio 1.31x")
	assert.Regexp(t, `BenchmarkBuildParallel/wasmreg\s+1 cpu\s+20000 ns/op\s+2 cpu\s+10500 ns/op\s+scaling 1.90x`, r)
	assert.Regexp(t, `BenchmarkBuildParallel/raw-wazero\s.*scaling 1.25x`, r)
	assert.NotContains(t, r, "BenchmarkLookup ", "only parallel benchmarks scale")
}

func TestReportWarmCold(t *testing.T) {
	in := `BenchmarkRunStartup/cold-2 	1	1000000000 ns/op
BenchmarkRunStartup/warm-2 	20	50000000 ns/op
`
	results, err := read(strings.NewReader(in), io.Discard)
	require.NoError(t, err)
	assert.Regexp(t, `BenchmarkRunStartup\s+warm\s+50000000 ns/op\s+cold\s+1000000000 ns/op\s+warm is 20.0x faster`, report(results))
}
