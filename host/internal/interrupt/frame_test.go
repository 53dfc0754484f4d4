package interrupt

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero/api"
)

// The shapes of TestFrameEstimate: a recursion f(d) -> f(d-1) through one
// function of each shape, exported as "f" through a wrapper.

// shapeRec: params, locals of a type live across the recursive call, and
// height values on the operand stack across it.
func shapeRec(params, locals int, ltype string, height int) string {
	var sb strings.Builder
	sb.WriteString("(module (func (export \"f\") (param $d i32) (result i32) (call $f (local.get $d)")
	for i := 1; i < params; i++ {
		sb.WriteString(" (local.get $d)")
	}
	sb.WriteString("))\n(func $f (param $d i32)")
	for i := 1; i < params; i++ {
		sb.WriteString(" (param i32)")
	}
	sb.WriteString(" (result i32)")
	for i := 0; i < locals; i++ {
		fmt.Fprintf(&sb, " (local %s)", ltype)
	}
	sb.WriteString("\n")
	for i := 0; i < locals; i++ {
		idx := params + i
		switch ltype {
		case "i32":
			fmt.Fprintf(&sb, "(local.set %d (i32.add (local.get $d) (i32.const %d)))\n", idx, i)
		case "i64":
			fmt.Fprintf(&sb, "(local.set %d (i64.extend_i32_u (i32.add (local.get $d) (i32.const %d))))\n", idx, i)
		case "v128":
			fmt.Fprintf(&sb, "(local.set %d (i32x4.splat (i32.add (local.get $d) (i32.const %d))))\n", idx, i)
		}
	}
	for i := 0; i < height; i++ {
		fmt.Fprintf(&sb, "(i32.mul (local.get $d) (i32.const %d))\n", i+3)
	}
	sb.WriteString("(if (result i32) (local.get $d) (then (call $f (i32.sub (local.get $d) (i32.const 1))")
	for i := 1; i < params; i++ {
		fmt.Fprintf(&sb, " (local.get %d)", i)
	}
	sb.WriteString(")) (else (i32.const 0)))\n")
	for i := 0; i < height; i++ {
		sb.WriteString("i32.add\n")
	}
	for i := 0; i < locals; i++ {
		idx := params + i
		switch ltype {
		case "i32":
			fmt.Fprintf(&sb, "(i32.add (local.get %d))\n", idx)
		case "i64":
			fmt.Fprintf(&sb, "(i32.add (i32.wrap_i64 (local.get %d)))\n", idx)
		case "v128":
			fmt.Fprintf(&sb, "(i32.add (i32x4.extract_lane 0 (local.get %d)))\n", idx)
		}
	}
	for i := 1; i < params; i++ {
		fmt.Fprintf(&sb, "(i32.add (local.get %d))\n", i)
	}
	sb.WriteString("))")
	return sb.String()
}

// shapeLiveAcrossCalls: n values, each the result of a call, all live
// across the recursive call.
func shapeLiveAcrossCalls(n int) string {
	var sb strings.Builder
	sb.WriteString(`(module (func $leaf (param i32) (result i32) (local.get 0))
(func (export "f") (param $d i32) (result i32) (call $f (local.get $d)))
(func $f (param $d i32) (result i32)
`)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "(call $leaf (i32.add (local.get $d) (i32.const %d)))\n", i)
	}
	sb.WriteString("(if (result i32) (local.get $d) (then (call $f (i32.sub (local.get $d) (i32.const 1)))) (else (i32.const 0)))\n")
	for i := 0; i < n; i++ {
		sb.WriteString("i32.add\n")
	}
	sb.WriteString("))")
	return sb.String()
}

// shapeMergePhis: k times, an if that sets all l locals (of type ty) by a
// chain of local.tee, then a call: l phis at each merge, all live across
// the calls after it.
func shapeMergePhis(l, k int, ty string) string {
	var sb strings.Builder
	sb.WriteString(`(module (func $leaf)
(func (export "f") (param $d i32) (result i32) (call $f (local.get $d)))
(func $f (param $d i32) (result i32) (local $v ` + ty + `)`)
	for i := 0; i < l; i++ {
		sb.WriteString(" (local " + ty + ")")
	}
	conv := map[string]string{"i32": "(local.get $d)", "i64": "(i64.extend_i32_u (local.get $d))", "v128": "(i32x4.splat (local.get $d))"}[ty]
	fmt.Fprintf(&sb, "\n(local.set $v %s)\n", conv)
	for j := 0; j < k; j++ {
		fmt.Fprintf(&sb, "(if (i32.and (local.get $d) (i32.const %d)) (then (local.get $v)", 1<<(j%31))
		for i := 0; i < l-1; i++ {
			fmt.Fprintf(&sb, " (local.tee %d)", i+2)
		}
		fmt.Fprintf(&sb, " (local.set %d))) (call $leaf)\n", l+1)
	}
	sb.WriteString(useLocals(l, ty))
	return sb.String()
}

// shapeNestedIfPhis: k nested ifs, l locals set in the innermost, a call
// after each end: l·k phis from about l+5k instructions.
func shapeNestedIfPhis(l, k int, ty string) string {
	var sb strings.Builder
	sb.WriteString(`(module (func $leaf)
(func (export "f") (param $d i32) (result i32) (call $f (local.get $d)))
(func $f (param $d i32) (result i32) (local $v ` + ty + `)`)
	for i := 0; i < l; i++ {
		sb.WriteString(" (local " + ty + ")")
	}
	conv := map[string]string{"i32": "(local.get $d)", "i64": "(i64.extend_i32_u (local.get $d))", "v128": "(i32x4.splat (local.get $d))"}[ty]
	fmt.Fprintf(&sb, "\n(local.set $v %s)\n", conv)
	for j := 0; j < k; j++ {
		fmt.Fprintf(&sb, "(if (i32.and (local.get $d) (i32.const %d)) (then\n", 1<<(j%31))
	}
	sb.WriteString("(local.get $v)")
	for i := 0; i < l-1; i++ {
		fmt.Fprintf(&sb, " (local.tee %d)", i+2)
	}
	fmt.Fprintf(&sb, " (local.set %d)", l+1)
	for j := 0; j < k; j++ {
		sb.WriteString(")) (call $leaf)\n")
	}
	sb.WriteString(useLocals(l, ty))
	return sb.String()
}

// useLocals ends the shapes above: the recursive call, then every local
// 2..l+1 used.
func useLocals(l int, ty string) string {
	var sb strings.Builder
	sb.WriteString("(if (result i32) (local.get $d) (then (call $f (i32.sub (local.get $d) (i32.const 1)))) (else (i32.const 0)))\n")
	for i := 0; i < l; i++ {
		switch ty {
		case "i32":
			fmt.Fprintf(&sb, "(i32.add (local.get %d))\n", i+2)
		case "i64":
			fmt.Fprintf(&sb, "(i32.add (i32.wrap_i64 (local.get %d)))\n", i+2)
		case "v128":
			fmt.Fprintf(&sb, "(i32.add (i32x4.extract_lane 0 (local.get %d)))\n", i+2)
		}
	}
	sb.WriteString("))")
	return sb.String()
}

// allocDuring returns the bytes the Go heap allocated during one call of
// f(d) on a fresh api.Function, whose call stack starts at wazero's
// initial 10 KiB.
func allocDuring(t testing.TB, mod api.Module, d uint64) uint64 {
	f := mod.ExportedFunction("f")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := f.Call(context.Background(), d)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	return after.TotalAlloc - before.TotalAlloc
}

// measureFrame returns the real stack bytes per level of the recursion f,
// from the depths at which wazero's stack (a Go []byte that doubles, to
// 2·len + the frame) grows past two successive sizes.
func measureFrame(t testing.TB, mod api.Module) float64 {
	cross := func(threshold uint64) (depth, grown uint64) {
		lo, hi := uint64(1), uint64(1)
		for allocDuring(t, mod, hi) < threshold {
			lo, hi = hi, hi*2
			require.Less(t, hi, uint64(1<<24), "the stack never grows")
		}
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if allocDuring(t, mod, mid) < threshold {
				lo = mid
			} else {
				hi = mid
			}
		}
		return hi, allocDuring(t, mod, hi) - allocDuring(t, mod, lo)
	}
	// At depth d1 the stack just outgrew about grown1/2 bytes; at d2,
	// grown2/2.
	d1, s1 := cross(1 << 20)
	d2, s2 := cross(2*s1 + 1<<19)
	return float64(s2/2-s1/2) / float64(d2-d1)
}

// TestFrameEstimate measures wazero's real frame for recursions through
// functions of shapes built to stress each term of the estimate
// (frame.go), rewritten as the host runs them, and checks that the
// estimate bounds it.
func TestFrameEstimate(t *testing.T) {
	shapes := []struct{ name, wat string }{
		{"tiny", shapeRec(1, 0, "i32", 0)},
		{"10 i32 locals", shapeRec(1, 10, "i32", 0)},
		{"100 i32 locals", shapeRec(1, 100, "i32", 0)},
		{"100 i64 locals", shapeRec(1, 100, "i64", 0)},
		{"100 v128 locals", shapeRec(1, 100, "v128", 0)},
		{"10 values on the stack", shapeRec(1, 0, "i32", 10)},
		{"100 values on the stack", shapeRec(1, 0, "i32", 100)},
		{"10 params", shapeRec(10, 0, "i32", 0)},
		{"100 params", shapeRec(100, 0, "i32", 0)},
		{"10 call results live", shapeLiveAcrossCalls(10)},
		{"100 call results live", shapeLiveAcrossCalls(100)},
		{"merge phis 10x10 i32", shapeMergePhis(10, 10, "i32")},
		{"merge phis 50x50 i64", shapeMergePhis(50, 50, "i64")},
		{"merge phis 50x50 v128", shapeMergePhis(50, 50, "v128")},
		{"nested-if phis 10x10 v128", shapeNestedIfPhis(10, 10, "v128")},
		{"nested-if phis 60x60 v128", shapeNestedIfPhis(60, 60, "v128")},
	}
	if testing.Short() {
		shapes = shapes[:3]
	}
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			wasm := watToWasm(t, s.wat)
			m := decode(t, wasm)
			opts := Options{Period: DefaultPeriod, StackLimit: MaxStackLimit, TableLimit: DefaultTableLimit}
			out, _ := instrument(t, wasm, opts)
			fp, err := newAnalyzer(m, opts).analyze(len(m.Code) - 1)
			require.NoError(t, err)
			orig := measureFrame(t, instantiate(t, newRuntime(t), wasm))
			real := measureFrame(t, instantiate(t, newRuntime(t), out))
			t.Logf("%-26s %5d instructions: real frame %8.1f bytes (%8.1f unrewritten), estimate %7d, %.2fx",
				s.name, m.Code[len(m.Code)-1].Instructions, real, orig, fp.frame, float64(fp.frame)/real)
			require.GreaterOrEqual(t, float64(fp.frame), real)
		})
	}
}
