package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

// instrumentFeatures are all the features wazero v1.12 implements, so that
// the tests exercise every instruction instrumentLoops decodes.
const instrumentFeatures = api.CoreFeaturesV2 | experimental.CoreFeaturesThreads | experimental.CoreFeaturesTailCall |
	experimental.CoreFeaturesExtendedConst | experimental.CoreFeaturesExceptionHandling |
	experimental.CoreFeaturesTypedFunctionReferences

// newInstrumentRuntime returns a runtime with every feature, closed with the
// test; closeOnDone selects wazero's own interruption.
func newInstrumentRuntime(t testing.TB, closeOnDone bool) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCoreFeatures(instrumentFeatures).
		WithCloseOnContextDone(closeOnDone))
	t.Cleanup(func() { _ = r.Close(ctx) })
	return r
}

// watToWasm assembles WAT with wabt's wat2wasm, skipping the test when it
// is not installed.
func watToWasm(t testing.TB, wat string, flags ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Skip("wat2wasm (wabt) is not installed")
	}
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	require.NoError(t, os.WriteFile(src, []byte(wat), 0o600))
	args := append([]string{"--enable-all"}, flags...)
	b, err := exec.Command("wat2wasm", append(args, src, "-o", dst)...).CombinedOutput()
	require.NoError(t, err, "%s", b)
	wasm, err := os.ReadFile(dst)
	require.NoError(t, err)
	return wasm
}

// Hand assembly, for what wabt 1.0.32 cannot write (try_table, call_ref)
// and for bytes no assembler would write.

func wasmModule(sections ...[]byte) []byte {
	return append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Join(sections, nil)...)
}

func wasmSectionOf(id byte, items ...[]byte) []byte {
	return appendSection(nil, id, wasmVec(items...))
}

func wasmVec(items ...[]byte) []byte {
	return append(appendU32(nil, uint32(len(items))), bytes.Join(items, nil)...)
}

func wasmName(s string) []byte { return append(appendU32(nil, uint32(len(s))), s...) }

// wasmCode is one code section entry: its size, then locals and code.
func wasmCode(locals []byte, code ...byte) []byte {
	body := append(append([]byte(nil), locals...), code...)
	return append(appendU32(nil, uint32(len(body))), body...)
}

func wasmExportFunc(name string, index byte) []byte { return append(wasmName(name), 0, index) }

// exceptionsWasm exercises try_table with all four kinds of catch clause,
// throw and throw_ref, each inside a loop.
func exceptionsWasm() []byte {
	return wasmModule(
		wasmSectionOf(1,
			[]byte{0x60, 0, 1, 0x7f},       // 0: [] -> [i32]
			[]byte{0x60, 1, 0x7f, 0},       // 1: [i32] -> [], the tag
			[]byte{0x60, 0, 2, 0x7f, 0x69}, // 2: [] -> [i32 exnref]
		),
		wasmSectionOf(3, []byte{0}, []byte{0}),
		wasmSectionOf(13, []byte{0, 1}),
		wasmSectionOf(7, wasmExportFunc("eh", 0), wasmExportFunc("ehref", 1)),
		wasmSectionOf(10,
			wasmCode([]byte{1, 1, 0x7f}, // one i32 local: the count
				0x03, 0x40, // loop $l
				0x02, 0x40, // block $all
				0x02, 0x7f, // block $c (result i32)
				0x1f, 0x40, 2, 0, 0, 0, 2, 1, // try_table (catch $tag $c) (catch_all $all)
				0x20, 0, 0x08, 0, // local.get 0, throw $tag
				0x0b,
				0x00, // unreachable
				0x0b,
				0x1a,                            // drop the payload
				0x20, 0, 0x41, 1, 0x6a, 0x21, 0, // count++
				0x20, 0, 0x41, 3, 0x49, 0x0d, 1, // br_if $l (count < 3)
				0x0b,
				0x0b,
				0x20, 0, // local.get 0
				0x0b,
			),
			wasmCode([]byte{1, 1, 0x69}, // one exnref local
				0x03, 0x7f, // loop (result i32)
				0x02, 0x69, // block $r (result exnref)
				0x1f, 0x40, 1, 3, 0, // try_table (catch_all_ref $r)
				0x41, 7, 0x08, 0, // throw $tag 7
				0x0b,
				0xd0, 0x69, // ref.null exn
				0x0b,
				0x21, 0, // local.set 0
				0x02, 2, // block (type 2)
				0x1f, 0x40, 1, 1, 0, 0, // try_table (catch_ref $tag 0)
				0x20, 0, 0x0a, // local.get 0, throw_ref
				0x0b,
				0x00, // unreachable
				0x0b,
				0x1a, // drop the exnref: 7 is left
				0x0b,
				0x0b,
			),
		),
	)
}

// funcRefsWasm calls through a typed function reference inside a loop.
func funcRefsWasm() []byte {
	return wasmModule(
		wasmSectionOf(1, []byte{0x60, 0, 1, 0x7f}),
		wasmSectionOf(3, []byte{0}, []byte{0}),
		wasmSectionOf(7, wasmExportFunc("five", 0), wasmExportFunc("callref", 1)),
		wasmSectionOf(10,
			wasmCode([]byte{0}, 0x41, 5, 0x0b),
			wasmCode([]byte{0},
				0x03, 0x7f, // loop (result i32)
				0xd2, 0, // ref.func 0
				0xd4,    // ref.as_non_null
				0x14, 0, // call_ref (type 0)
				0x0b,
				0x0b,
			),
		),
	)
}

type instrumentCall struct {
	fn   string
	args []uint64
}

// instrumentCase is a module whose rewrite must behave as it does.
type instrumentCase struct {
	name  string
	wat   string
	wasm  func() []byte // instead of wat
	env   string        // WAT of the "env" module it imports, if any
	loops int
	calls []instrumentCall
}

func (tc *instrumentCase) module(t testing.TB) []byte {
	if tc.wasm != nil {
		return tc.wasm()
	}
	return watToWasm(t, tc.wat)
}

var instrumentCases = []instrumentCase{
	{
		name: "loops in blocks and ifs",
		wat: `(module
  (func (export "sum") (param $n i32) (result i32) (local $i i32) (local $s i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.and (local.get $i) (i32.const 1))
          (then (local.set $s (i32.add (local.get $s) (local.get $i))))
          (else (loop $inner (local.set $s (i32.sub (local.get $s) (i32.const 1))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $s))
  (func (export "nested") (param $n i32) (result i64) (local $i i32) (local $j i32) (local $acc i64)
    (loop $outer
      (local.set $j (i32.const 0))
      (block $b
        (loop $inner
          (br_if $b (i32.ge_u (local.get $j) (local.get $i)))
          (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (i32.mul (local.get $i) (local.get $j)))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $inner)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $outer (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1))))`,
		loops: 4,
		calls: []instrumentCall{{"sum", []uint64{10}}, {"sum", []uint64{0}}, {"nested", []uint64{20}}, {"div", []uint64{7, 0}}},
	},
	{
		name: "multi-value blocks",
		wat: `(module
  (func (export "fib") (param $n i32) (result i32) (local $a i32) (local $b i32)
    (i32.const 0) (i32.const 1)
    (loop $l (param i32 i32) (result i32 i32)
      (local.set $b) (local.set $a)
      (local.get $b) (i32.add (local.get $a) (local.get $b))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (i32.gt_s (local.get $n) (i32.const 0))))
    (drop))
  (func (export "swap") (param i32 i32) (result i32 i32)
    (local.get 0) (local.get 1)
    (if (param i32 i32) (result i32 i32) (i32.gt_u (local.get 0) (local.get 1))
      (then (local.set 0) (local.set 1) (local.get 0) (local.get 1)))
    (block (param i32 i32) (result i32 i32) (loop (param i32 i32) (result i32 i32)))))`,
		loops: 2,
		calls: []instrumentCall{{"fib", []uint64{20}}, {"swap", []uint64{1, 2}}, {"swap", []uint64{5, 3}}},
	},
	{
		name: "br_table",
		wat: `(module
  (func (export "classify") (param $n i32) (result i32) (local $acc i32)
    (loop $l
      (block $done
        (block $two
          (block $one
            (block $zero
              (br_table $zero $one $two $done (local.get $n)))
            (local.set $acc (i32.add (local.get $acc) (i32.const 1))))
          (local.set $acc (i32.add (local.get $acc) (i32.const 10))))
        (local.set $acc (i32.add (local.get $acc) (i32.const 100)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $acc)))`,
		loops: 1,
		calls: []instrumentCall{{"classify", []uint64{0}}, {"classify", []uint64{2}}, {"classify", []uint64{5}}},
	},
	{
		name: "simd",
		wat: `(module
  (memory (export "memory") 1)
  (func (export "simd") (param $n i32) (result i32) (local $v v128) (local $i i32)
    (local.set $v (v128.const i32x4 1 2 3 4))
    (loop $l
      (local.set $v (i32x4.add (local.get $v) (v128.const i32x4 1 1 1 1)))
      (local.set $v (i8x16.shuffle 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0 (local.get $v) (local.get $v)))
      (local.set $v (i32x4.replace_lane 2 (local.get $v) (i32x4.extract_lane 1 (local.get $v))))
      (v128.store offset=16 (i32.const 0) (local.get $v))
      (local.set $v (v128.load32_lane 3 (i32.const 20) (local.get $v)))
      (v128.store8_lane 5 (i32.const 100) (local.get $v))
      (local.set $v (i16x8.abs (local.get $v)))
      (local.set $v (i32x4.dot_i16x8_s (local.get $v) (v128.load32_splat (i32.const 16))))
      (local.set $v (v128.or (local.get $v) (v128.load64_zero (i32.const 24))))
      (local.set $v (f64x2.promote_low_f32x4 (local.get $v)))
      (local.set $v (i32x4.trunc_sat_f64x2_s_zero (local.get $v)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (i32.add (i32x4.extract_lane 0 (local.get $v)) (i8x16.bitmask (local.get $v)))))`,
		loops: 1,
		calls: []instrumentCall{{"simd", []uint64{1}}, {"simd", []uint64{17}}},
	},
	{
		name: "bulk memory and reference types",
		wat: `(module
  (memory (export "memory") 1)
  (data $d "hello, world")
  (table $t 4 funcref)
  (table $e 2 externref)
  (elem $el func $f $g)
  (type $ret (func (result i32)))
  (func $f (result i32) (i32.const 7))
  (func $g (result i32) (i32.const 9))
  (func (export "bulk") (param $n i32) (result i32) (local $i i32) (local $acc i32)
    (loop $l
      (memory.init $d (i32.const 0) (i32.const 0) (i32.const 12))
      (memory.copy (i32.const 32) (i32.const 0) (i32.const 12))
      (memory.fill (i32.const 64) (local.get $i) (i32.const 8))
      (table.init $t $el (i32.const 0) (i32.const 0) (i32.const 2))
      (table.copy $t $t (i32.const 2) (i32.const 0) (i32.const 2))
      (drop (table.grow $e (ref.null extern) (i32.const 1)))
      (table.fill $e (i32.const 0) (ref.null extern) (i32.const 1))
      (table.set $e (i32.const 0) (table.get $e (i32.const 1)))
      (local.set $acc (i32.add (local.get $acc) (call_indirect $t (type $ret) (i32.rem_u (local.get $i) (i32.const 4)))))
      (local.set $acc (i32.add (local.get $acc) (table.size $e)))
      (local.set $acc (i32.add (local.get $acc) (ref.is_null (ref.func $f))))
      (local.set $acc (i32.add (local.get $acc) (select (result i32) (i32.const 1) (i32.const 2) (local.get $i))))
      (local.set $acc (i32.add (local.get $acc) (i32.load8_u (i32.const 36))))
      (local.set $acc (i32.add (local.get $acc) (i32.extend8_s (i32.load8_u offset=64 (i32.const 0)))))
      (local.set $acc (i32.add (local.get $acc) (memory.size)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (drop (memory.grow (i32.const 1)))
    (data.drop $d)
    (elem.drop $el)
    (i32.add (local.get $acc) (i32.trunc_sat_f64_s (f64.const 1e30)))))`,
		loops: 1,
		calls: []instrumentCall{{"bulk", []uint64{1}}, {"bulk", []uint64{6}}},
	},
	{
		name: "constants and conversions",
		wat: `(module
  (func (export "num") (param $x f64) (result i64) (local $i i32) (local $acc i64)
    (loop $l
      (local.set $acc (i64.add (local.get $acc) (i64.trunc_sat_f64_s (f64.mul (local.get $x) (f64.const 1.5)))))
      (local.set $acc (i64.add (local.get $acc) (i64.extend32_s (i64.const 0xffffffff))))
      (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_s (i32.extend8_s (i32.const 0x80)))))
      (local.set $acc (i64.xor (local.get $acc) (i64.const 0x123456789abcdef0)))
      (local.set $acc (i64.add (local.get $acc) (i64.trunc_f32_u (f32.const 3.5))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100))))
    (local.get $acc)))`,
		loops: 1,
		calls: []instrumentCall{{"num", []uint64{api.EncodeF64(2.25)}}, {"num", []uint64{api.EncodeF64(-1e300)}}},
	},
	{
		name: "start function",
		wat: `(module
  (global $g (export "g") (mut i32) (i32.const 0))
  (memory (export "memory") 1)
  (func $init (local $i i32)
    (loop $l
      (i32.store8 (local.get $i) (i32.add (local.get $i) (i32.const 65)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 10))))
    (global.set $g (i32.const 42)))
  (start $init)
  (func (export "get") (result i32) (i32.add (global.get $g) (i32.load8_u (i32.const 3)))))`,
		loops: 1,
		calls: []instrumentCall{{"get", nil}},
	},
	{
		name: "no export section",
		wat: `(module
  (memory 1)
  (func $spin (local $i i32)
    (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (i32.const 10)))))
  (start $spin))`,
		loops: 1,
	},
	{
		name: "imported and defined globals",
		env: `(module
  (global (export "base") i32 (i32.const 3))
  (global (export "counter") (mut i32) (i32.const 0))
  (func (export "f") (result i32) (i32.const 11)))`,
		wat: `(module
  (import "env" "f" (func $f (result i32)))
  (import "env" "base" (global $base i32))
  (import "env" "counter" (global $counter (mut i32)))
  (global $local (mut i32) (i32.const 5))
  (global $k i64 (i64.const 7))
  (func (export "run") (param $n i32) (result i32) (local $i i32)
    (loop $l
      (global.set $local (i32.add (global.get $local) (global.get $base)))
      (global.set $counter (i32.add (global.get $counter) (call $f)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (i32.add (i32.add (global.get $local) (global.get $counter)) (i32.wrap_i64 (global.get $k)))))`,
		loops: 1,
		calls: []instrumentCall{{"run", []uint64{4}}, {"run", []uint64{9}}},
	},
	{
		name: "tail calls",
		wat: `(module
  (type $t (func (param i32 i32) (result i32)))
  (table 1 funcref)
  (elem (i32.const 0) $count)
  (func $count (param $n i32) (param $acc i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (local.get $acc))
      (else (return_call $count (i32.sub (local.get $n) (i32.const 1)) (i32.add (local.get $acc) (i32.const 2))))))
  (func (export "tail") (param $n i32) (result i32) (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (call $count (local.get $i) (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (return_call_indirect (type $t) (local.get $n) (local.get $s) (i32.const 0))))`,
		loops: 1,
		calls: []instrumentCall{{"tail", []uint64{30}}},
	},
	{
		name: "threads",
		wat: `(module
  (memory (export "memory") 1 1 shared)
  (func (export "atomics") (param $n i32) (result i32) (local $i i32)
    (loop $l
      (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 2)))
      (i64.atomic.store offset=8 (i32.const 0) (i64.extend_i32_u (local.get $i)))
      (drop (i32.atomic.rmw.cmpxchg (i32.const 4) (local.get $i) (i32.add (local.get $i) (i32.const 1))))
      (atomic.fence)
      (drop (memory.atomic.notify (i32.const 0) (i32.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (i32.add (i32.atomic.load (i32.const 0)) (i32.atomic.load8_u (i32.const 4)))))`,
		loops: 1,
		calls: []instrumentCall{{"atomics", []uint64{12}}},
	},
	{
		name:  "exception handling",
		wasm:  exceptionsWasm,
		loops: 2,
		calls: []instrumentCall{{"eh", nil}, {"ehref", nil}},
	},
	{
		name:  "typed function references",
		wasm:  funcRefsWasm,
		loops: 1,
		calls: []instrumentCall{{"callref", nil}},
	},
}

// instantiate compiles wasm on r, with env instantiated first if given.
func instantiate(t testing.TB, r wazero.Runtime, wasm []byte, env string) api.Module {
	t.Helper()
	ctx := context.Background()
	if env != "" {
		_, err := r.InstantiateWithConfig(ctx, watToWasm(t, env), wazero.NewModuleConfig().WithName("env"))
		require.NoError(t, err)
	}
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
	require.NoError(t, err)
	return mod
}

// errorLine is an error's message without wazero's stack trace.
func errorLine(err error) string {
	if err == nil {
		return ""
	}
	return strings.SplitN(err.Error(), "\n", 2)[0]
}

func TestInstrumentLoops(t *testing.T) {
	for _, tc := range instrumentCases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			wasm := tc.module(t)
			out, plan, err := instrumentLoops(wasm)
			require.NoError(t, err)
			assert.Equal(t, tc.loops, plan.loops)
			assert.Equal(t, stopGlobalExport, plan.stopGlobal)

			original := instantiate(t, newInstrumentRuntime(t, true), wasm, tc.env)
			rewritten := instantiate(t, newInstrumentRuntime(t, false), out, tc.env)
			stop, ok := rewritten.ExportedGlobal(stopGlobalExport).(api.MutableGlobal)
			require.True(t, ok, "the stop flag is a mutable global")
			assert.Equal(t, api.ValueTypeI32, stop.Type())
			assert.Zero(t, stop.Get())
			if plan.start != "" {
				_, err := rewritten.ExportedFunction(plan.start).Call(ctx)
				require.NoError(t, err)
			}

			for _, c := range tc.calls {
				want, wantErr := original.ExportedFunction(c.fn).Call(ctx, c.args...)
				got, err := rewritten.ExportedFunction(c.fn).Call(ctx, c.args...)
				assert.Equal(t, errorLine(wantErr), errorLine(err), "%s%v", c.fn, c.args)
				assert.Equal(t, want, got, "%s%v", c.fn, c.args)
			}
			if mem := original.ExportedMemory("memory"); mem != nil {
				want, _ := mem.Read(0, mem.Size())
				mem = rewritten.ExportedMemory("memory")
				got, _ := mem.Read(0, mem.Size())
				assert.True(t, bytes.Equal(want, got), "memories differ")
			}
		})
	}
}

// TestLoopCheck pins the bytes inserted after a loop: the flag's check
// first, then the count that returns to Go every yieldPeriod iterations.
func TestLoopCheck(t *testing.T) {
	assert.Equal(t, []byte{
		0x23, 0x80, 0x01, 0x04, 0x40, 0x00, 0x0b, // global.get 128, if, unreachable, end
		0x23, 0x81, 0x01, 0x41, 0x01, 0x6a, 0x24, 0x81, 0x01, // global 129 += 1
		0x23, 0x81, 0x01, 0x41, 0xff, 0xff, 0x03, 0x71, 0x45, // & 0xffff == 0
		0x04, 0x40, 0xd0, 0x70, 0x41, 0x00, 0xfc, 0x0f, 0x02, 0x1a, 0x0b, // if, table.grow 2 by 0, drop, end
	}, loopCheck(128, 129, 2))
	assert.Equal(t, []byte{0x7f}, appendS32(nil, -1))
	assert.Equal(t, []byte{0x80, 0x7f}, appendS32(nil, -128))
	assert.Equal(t, []byte{0xc0, 0x00}, appendS32(nil, 64))
}

// TestInterruptStopsLoops is what the rewrite is for: a call spinning in a
// loop on a runtime without close-on-context-done stops when another
// goroutine sets the flag, and lets the garbage collector run meanwhile.
func TestInterruptStopsLoops(t *testing.T) {
	wasm := watToWasm(t, `(module
  (func (export "spin") (loop $l (br $l)))
  (func $inner (loop $l (br $l)))
  (func (export "spin_in_callee") (call $inner))
  (func (export "spin_in_block_in_loop") (local $i i32)
    (loop $outer
      (block $b
        (loop $inner
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $inner)))
      (br $outer))))`)
	out, _, err := instrumentLoops(wasm)
	require.NoError(t, err)
	r := newInstrumentRuntime(t, false)
	compiled, err := r.CompileModule(context.Background(), out)
	require.NoError(t, err)

	for _, fn := range []string{"spin", "spin_in_callee", "spin_in_block_in_loop"} {
		t.Run(fn, func(t *testing.T) {
			ctx := context.Background()
			mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName(""))
			require.NoError(t, err)
			defer mod.Close(ctx)
			stop := mod.ExportedGlobal(stopGlobalExport).(api.MutableGlobal)

			done := make(chan error, 1)
			go func() {
				_, err := mod.ExportedFunction(fn).Call(ctx)
				done <- err
			}()
			stopped := make(chan time.Time, 1)
			time.AfterFunc(10*time.Millisecond, func() {
				// A collection must finish while the guest spins: it stops
				// every goroutine, and only the guest's returns to Go let
				// it stop this one. Were they missing, the test (and the
				// process) would hang here, timers and all.
				runtime.GC()
				at := time.Now()
				stop.Set(1)
				stopped <- at // after Set: the Set(0) below must follow it
			})
			select {
			case err := <-done:
				at := <-stopped
				require.Error(t, err)
				assert.Contains(t, err.Error(), "unreachable")
				t.Logf("%s returned %v after the flag was set", fn, time.Since(at))
			case <-time.After(time.Second):
				// The guest spins on: nothing can stop it now.
				t.Fatalf("%s still runs 1s after the stop flag was set", fn)
			}

			// The same instance runs again once the flag is cleared.
			stop.Set(0)
			go func() {
				_, err := mod.ExportedFunction(fn).Call(ctx)
				done <- err
			}()
			time.AfterFunc(time.Millisecond, func() {
				stop.Set(1)
				stopped <- time.Now()
			})
			select {
			case err := <-done:
				<-stopped
				require.Error(t, err)
			case <-time.After(time.Second):
				t.Fatalf("%s still runs 1s after the stop flag was set again", fn)
			}
		})
	}
}

func TestInstrumentLoopsStartFunction(t *testing.T) {
	ctx := context.Background()
	tc := instrumentCases[0]
	for _, c := range instrumentCases {
		if c.name == "start function" {
			tc = c
		}
	}
	out, plan, err := instrumentLoops(tc.module(t))
	require.NoError(t, err)
	assert.Equal(t, startExport, plan.start)
	sections, err := splitSections(out)
	require.NoError(t, err)
	for _, s := range sections {
		assert.NotEqual(t, byte(secStart), s.id, "the rewrite has no start section")
	}

	mod := instantiate(t, newInstrumentRuntime(t, false), out, "")
	g := mod.ExportedGlobal("g")
	assert.Zero(t, g.Get(), "instantiating does not run the start function")
	first, _ := mod.Memory().ReadByte(0)
	assert.Zero(t, first)

	_, err = mod.ExportedFunction(startExport).Call(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(42), g.Get())
	first, _ = mod.Memory().ReadByte(0)
	assert.Equal(t, byte('A'), first)
}

func TestInstrumentLoopsRefuses(t *testing.T) {
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Skip("wat2wasm (wabt) is not installed")
	}
	// oneFunc is a module of one function [] -> [] with the given code.
	oneFunc := func(code ...byte) []byte {
		return wasmModule(
			wasmSectionOf(1, []byte{0x60, 0, 0}),
			wasmSectionOf(3, []byte{0}),
			wasmSectionOf(5, []byte{0, 1}),
			wasmSectionOf(10, wasmCode([]byte{0}, code...)),
		)
	}
	tests := []struct {
		name      string
		wasm      []byte
		malformed bool // also wraps errMalformed
	}{
		{name: "stop flag's name taken", wasm: watToWasm(t, `(module (global (export "__wasmreg_stop") i32 (i32.const 0)))`)},
		{name: "start's name taken", wasm: watToWasm(t, `(module (func $s) (start $s) (func (export "__wasmreg_start")))`)},
		{name: "legacy exceptions", wasm: watToWasm(t, `(module (func (try (do (nop)) (catch_all (nop)))))`)},
		{name: "relaxed simd", wasm: oneFunc(0x41, 0, 0xfd, 0x0f, 0x41, 0, 0xfd, 0x0f, 0xfd, 0x80, 0x02, 0x1a, 0x0b)},
		{name: "simd opcode encoded as wazero does not read it", wasm: oneFunc(0xfd, 0x8c, 0x80, 0x00, 0x0b)},
		{name: "unused simd opcode", wasm: oneFunc(0xfd, 0x9a, 0x01, 0x0b)},
		{name: "gc", wasm: oneFunc(0xfb, 0x00, 0x0b)},
		{name: "unknown misc opcode", wasm: oneFunc(0xfc, 18, 0x0b)},
		{name: "misc opcode beyond a byte", wasm: oneFunc(0xfc, 0x88, 0x02, 0x0b)},
		{name: "unknown atomic opcode", wasm: oneFunc(0xfe, 0x4f, 0x0b)},
		{name: "multi-memory load", wasm: oneFunc(0x41, 0, 0x28, 0x42, 1, 0, 0x1a, 0x0b)},
		{name: "multi-memory memory.size", wasm: oneFunc(0x3f, 1, 0x1a, 0x0b)},
		{name: "start function with a parameter", malformed: true,
			wasm: watToWasm(t, `(module (func $s (param i32)) (start $s))`, "--no-check")},
		{name: "truncated body", malformed: true, wasm: oneFunc(0x03, 0x40)},
		{name: "code after the end", malformed: true, wasm: oneFunc(0x0b, 0x01)},
		{name: "block type out of range", malformed: true, wasm: oneFunc(0x02, 0x50, 0x0b, 0x0b)},
		{name: "sections out of order", malformed: true, wasm: wasmModule(wasmSectionOf(7), wasmSectionOf(6))},
		{name: "unknown section", malformed: true, wasm: wasmModule(wasmSectionOf(14))},
		{name: "custom section name not utf-8", malformed: true, wasm: wasmModule(appendSection(nil, 0, wasmName("\xff")))},
		{name: "not a module", malformed: true, wasm: []byte("MZ\x90\x00 this is not a webassembly module\n")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, plan, err := instrumentLoops(tc.wasm)
			require.Error(t, err)
			assert.Nil(t, out)
			assert.Nil(t, plan)
			assert.ErrorIs(t, err, errNoInstrument)
			assert.Equal(t, tc.malformed, errors.Is(err, errMalformed), "%v", err)
		})
	}
}

// TestInstrumentLoopsKeepsSections checks the bytes around the rewrite: the
// table, global and export sections created where the order wants them,
// DWARF dropped, other custom sections and padded sizes kept.
func TestInstrumentLoopsKeepsSections(t *testing.T) {
	custom := func(name string) []byte { return appendSection(nil, 0, append(wasmName(name), "data"...)) }
	// A code section whose sizes are padded to 5 bytes, as linkers write them.
	body := []byte{0, 0x03, 0x40, 0x0b, 0x0b} // no locals, loop end, end
	code := append([]byte{1}, appendU32Width(nil, uint32(len(body)), 5)...)
	code = append(code, body...)
	codeSection := append([]byte{10}, appendU32Width(nil, uint32(len(code)), 5)...)
	codeSection = append(codeSection, code...)
	wasm := wasmModule(
		custom("first"),
		wasmSectionOf(1, []byte{0x60, 0, 0}),
		wasmSectionOf(3, []byte{0}),
		custom(".debug_info"),
		wasmSectionOf(5, []byte{0, 1}),
		custom("after memory"),
		appendSection(nil, 12, []byte{0}), // data count: no segments
		codeSection,
		wasmSectionOf(11),
		custom(".debug_line"),
		custom("trailing"),
	)
	out, plan, err := instrumentLoops(wasm)
	require.NoError(t, err)
	assert.Equal(t, 1, plan.loops)

	sections, err := splitSections(out)
	require.NoError(t, err)
	var order []string
	for _, s := range sections {
		if s.id == secCustom {
			order = append(order, (&reader{b: s.payload}).name())
		} else {
			order = append(order, string(rune('0'+s.id)))
		}
		if s.id == secCode {
			assert.Equal(t, 5, s.sizeWidth, "the code section's size keeps its width")
			r := &reader{b: s.payload}
			r.u32()
			at := r.off
			r.u32()
			assert.Equal(t, 5, r.off-at, "a function's size keeps its width")
		}
	}
	// '<' is 12, ':' is 10, ';' is 11.
	assert.Equal(t, []string{"first", "1", "3", "4", "5", "after memory", "6", "7", "<", ":", ";", "trailing"}, order)

	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCustomSections(true))
	defer r.Close(ctx)
	compiled, err := r.CompileModule(ctx, out)
	require.NoError(t, err)
	assert.Equal(t, []string{"data", "data", "data"}, customData(compiled))
}

func customData(c wazero.CompiledModule) []string {
	var data []string
	for _, s := range c.CustomSections() {
		data = append(data, string(s.Data()))
	}
	return data
}

// instrumentableFiles are the modules under testdata.
func instrumentableFiles(t testing.TB) []string {
	paths, err := filepath.Glob("testdata/*.wasm")
	require.NoError(t, err)
	hostile, err := filepath.Glob("testdata/hostile/*.wasm")
	require.NoError(t, err)
	return append(paths, hostile...)
}

// buildGoGuest builds testdata/goguest with Go's wasip1 port, once per
// test binary; the external tests call it through BuildGoGuest.
func buildGoGuest(t testing.TB) []byte {
	t.Helper()
	path, err := wasmbuild.Shared.Get("host-goguest", func(out string) error {
		return wasmbuild.Go(context.Background(), ".", "./testdata/goguest", out)
	})
	require.NoError(t, err)
	wasm, err := os.ReadFile(path)
	require.NoError(t, err)
	return wasm
}

// buildMLPC builds the C factory with wasm SIMD, as the Makefile does.
func buildMLPC(t testing.TB) []byte {
	t.Helper()
	wasm, err := wasmbuild.Shared.CFactory(context.Background(), "mlpc-simd128", "examples/factories/mlpc/mlpc.c", "-msimd128")
	if errors.Is(err, wasmbuild.ErrToolMissing) {
		t.Skipf("the C factory needs clang for wasm32-wasi: %v", err)
	}
	require.NoError(t, err)
	return wasm
}

// TestInstrumentLoopsRealModules rewrites every module wazero accepts among
// the fixtures, a Go guest and a C guest: each rewrite must compile.
func TestInstrumentLoopsRealModules(t *testing.T) {
	ctx := context.Background()
	// The host's runtime: wazero's default features.
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig())
	defer r.Close(ctx)
	check := func(t *testing.T, name string, wasm []byte) {
		original, err := r.CompileModule(ctx, wasm)
		if err != nil {
			_, _, _ = instrumentLoops(wasm) // may refuse it, must not panic
			t.Logf("%s: wazero refuses it: %v", name, errorLine(err))
			return
		}
		require.NoError(t, original.Close(ctx))
		began := time.Now()
		out, plan, err := instrumentLoops(wasm)
		require.NoError(t, err)
		took := time.Since(began)
		compiled, err := r.CompileModule(ctx, out)
		require.NoError(t, err)
		require.NoError(t, compiled.Close(ctx))
		t.Logf("%s: %d bytes, rewritten %d bytes (%+d, %+.2f%%) in %v: %d loops, start export %q",
			name, len(wasm), len(out), len(out)-len(wasm), 100*float64(len(out)-len(wasm))/float64(len(wasm)), took, plan.loops, plan.start)
	}
	for _, path := range instrumentableFiles(t) {
		t.Run(path, func(t *testing.T) {
			if strings.HasSuffix(path, "compiler_crash.wasm") {
				t.Skip("wazero's compiler panics on it (the host recovers)")
			}
			wasm, err := os.ReadFile(path)
			require.NoError(t, err)
			check(t, path, wasm)
		})
	}
	t.Run("go guest", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds and compiles a 3 MB module")
		}
		wasm := buildGoGuest(t)
		check(t, "go guest", wasm)
		// Go's runtime and the guest's code, run: the same metadata.
		out, _, err := instrumentLoops(wasm)
		require.NoError(t, err)
		want := goGuestInfo(t, wasm, true)
		assert.Contains(t, string(want), `"name"`)
		assert.Equal(t, string(want), string(goGuestInfo(t, out, false)))
	})
	t.Run("c guest", func(t *testing.T) {
		check(t, "mlpc (C, simd128)", buildMLPC(t))
	})
}

// goGuestInfo runs a Go guest's _initialize and wasmreg_info with stub
// host functions and returns what it output.
func goGuestInfo(t *testing.T, wasm []byte, closeOnDone bool) []byte {
	ctx := context.Background()
	r := newInstrumentRuntime(t, closeOnDone)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	var output []byte
	noop := api.GoModuleFunc(func(context.Context, api.Module, []uint64) {})
	i32 := api.ValueTypeI32
	_, err := r.NewHostModuleBuilder("wasmreg").
		NewFunctionBuilder().WithGoModuleFunction(noop, []api.ValueType{i32}, nil).Export("input").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, mod api.Module, stack []uint64) {
		b, _ := mod.Memory().Read(api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
		output = append(output, b...)
	}), []api.ValueType{i32, i32}, nil).Export("output").
		NewFunctionBuilder().WithGoModuleFunction(noop, []api.ValueType{i32, i32}, nil).Export("error").
		NewFunctionBuilder().WithGoModuleFunction(noop, []api.ValueType{i32, i32, i32}, nil).Export("log").
		Instantiate(ctx)
	require.NoError(t, err)
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize"))
	require.NoError(t, err)
	res, err := mod.ExportedFunction("wasmreg_info").Call(ctx)
	require.NoError(t, err)
	require.Equal(t, []uint64{0}, res)
	return output
}

// droppedBytes counts the bytes of the custom sections instrumentLoops drops.
func droppedBytes(wasm []byte) int {
	sections, err := splitSections(wasm)
	if err != nil {
		return 0
	}
	n := 0
	for _, s := range sections {
		if s.id == secCustom && strings.HasPrefix((&reader{b: s.payload}).name(), ".debug_") {
			n += 1 + s.sizeWidth + len(s.payload)
		}
	}
	return n
}

// mayAllocateHugely reports bytes in which wazero's decoder could meet a
// vector count of millions: it allocates the vector before reading it, so
// a fuzzed count could exhaust memory. Counts below 2^21 take 3 bytes or
// fewer, with at most 2 high bits set in a row.
func mayAllocateHugely(wasm []byte) bool {
	run := 0
	for _, b := range wasm {
		if b&0x80 == 0 {
			run = 0
		} else if run++; run > 2 {
			return true
		}
	}
	return false
}

// FuzzInstrumentLoops feeds arbitrary bytes to instrumentLoops: it may
// refuse them, never panic; what it returns is no shorter than what it
// read (bar dropped DWARF), and compiles whenever the input compiles.
func FuzzInstrumentLoops(f *testing.F) {
	for _, path := range instrumentableFiles(f) {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
	}
	if _, err := exec.LookPath("wat2wasm"); err == nil {
		for _, tc := range instrumentCases {
			f.Add(tc.module(f))
		}
	} else {
		f.Add(exceptionsWasm())
		f.Add(funcRefsWasm())
	}
	ctx := context.Background()
	r := newInstrumentRuntime(f, false)
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, plan, err := instrumentLoops(wasm)
		if err != nil {
			if !errors.Is(err, errNoInstrument) {
				t.Fatalf("error does not wrap errNoInstrument: %v", err)
			}
			return
		}
		if plan == nil || plan.stopGlobal != stopGlobalExport {
			t.Fatalf("plan %+v", plan)
		}
		if len(out) < len(wasm)-droppedBytes(wasm) {
			t.Fatalf("rewrite of %d bytes (%d dropped) is %d bytes", len(wasm), droppedBytes(wasm), len(out))
		}
		if _, _, err := instrumentLoops(out); !errors.Is(err, errNoInstrument) || !strings.Contains(err.Error(), "already exports") {
			t.Fatalf("the rewrite of a rewrite: %v", err)
		}
		if mayAllocateHugely(wasm) {
			return
		}
		if err := compileRecovering(ctx, r, wasm); err != nil {
			return
		}
		if err := compileRecovering(ctx, r, out); err != nil {
			t.Fatalf("wazero compiles the module but not its rewrite: %v", err)
		}
	})
}

// compileRecovering compiles wasm, turning a panic into an error: wazero
// v1.12 panics on some invalid modules (a call, validated before the
// callee's out-of-range type index is checked, indexes the type section
// with it: testdata/fuzz/FuzzInstrumentLoops/f36fb59fe37d77e9).
func compileRecovering(ctx context.Context, r wazero.Runtime, wasm []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("wazero panicked: %v", p)
		}
	}()
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return err
	}
	return compiled.Close(ctx)
}

// BenchmarkInterruptCheck compares the cost of making a loop interruptible:
// wazero's close-on-context-done (a call out to Go at every loop header)
// against the rewrite's inline flag, on a loop of 1e6 additions.
func BenchmarkInterruptCheck(b *testing.B) {
	wasm := watToWasm(b, `(module
  (func (export "sum") (param $n i32) (result i32) (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $s)))`)
	out, _, err := instrumentLoops(wasm)
	require.NoError(b, err)
	const n = 1_000_000
	for _, bc := range []struct {
		name        string
		wasm        []byte
		closeOnDone bool
	}{
		{"close-on-context-done", wasm, true},
		{"stop-flag", out, false},
		{"unchecked", wasm, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			mod := instantiate(b, newInstrumentRuntime(b, bc.closeOnDone), bc.wasm, "")
			sum := mod.ExportedFunction("sum")
			for b.Loop() {
				if _, err := sum.Call(ctx, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/iter")
		})
	}
}
