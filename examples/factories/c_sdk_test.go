package factories_test

// Tests of the C SDK (guest-sdk/c/wasmreg.h), its minimal example, its
// capability clients and the centroid factory, under the real host. The
// C sources are compiled once per test binary with internal/wasmbuild
// (clang --target=wasm32-wasi -mexec-model=reactor); the tests skip if
// clang is not installed.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/wasmbuild"
)

// cSDKWasm compiles the C factory at source (relative to the repository
// root) against guest-sdk/c, once per test binary, and returns the module.
func cSDKWasm(t testing.TB, name, source string) []byte {
	t.Helper()
	wasm, err := wasmbuild.Shared.CFactory(context.Background(), "csdk-"+name, source)
	if errors.Is(err, wasmbuild.ErrToolMissing) {
		t.Fatalf("C factories need clang for wasm32-wasi (run make deps): %v", err)
	}
	require.NoError(t, err)
	return wasm
}

func cSDKMinimalWasm(t testing.TB) []byte {
	return cSDKWasm(t, "minimal", "guest-sdk/c/example/minimal.c")
}

func cSDKCapsWasm(t testing.TB) []byte {
	return cSDKWasm(t, "ccaps", "examples/factories/testdata/ccaps/ccaps.c")
}

func centroidWasm(t testing.TB) []byte {
	return cSDKWasm(t, "centroid", "examples/factories/centroid/centroid.c")
}

// cSDKHost returns a host logging at debug level into the returned buffer,
// closed when the test ends.
func cSDKHost(t testing.TB, opts ...host.Option) (*host.Host, *testLogs) {
	t.Helper()
	logs := &testLogs{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := host.New(context.Background(), append([]host.Option{host.WithLogger(logger)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, h.Close(context.Background())) })
	return h, logs
}

func cSDKBuild(t testing.TB, f *host.Factory, config string) *host.Model {
	t.Helper()
	m, err := f.BuildModel(context.Background(), []byte(config))
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

// cSDKWithoutLog returns caps without "log", which is always granted.
func cSDKWithoutLog(caps []string) []string {
	return slices.DeleteFunc(slices.Clone(caps), func(c string) bool { return c == host.CapLog })
}

// cSDKCapabilityImports are the imports that need a grant.
var cSDKCapabilityImports = []string{
	"wasmreg.clock_now", "wasmreg.clock_monotonic", "wasmreg.random_fill", "wasmreg.random_seed",
	"wasmreg.artifact_size", "wasmreg.artifact_read",
}

func TestCSDKMinimal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The factory's own config checks, as a host made WithoutConfigValidation
	// leaves them (schema_test.go checks the host's).
	h, _ := cSDKHost(t, host.WithoutConfigValidation()) // no grants at all
	f, err := h.Load(ctx, cSDKMinimalWasm(t))
	require.NoError(t, err)

	t.Run("metadata", func(t *testing.T) {
		info := f.Info()
		assert.Equal(t, "scale", info.Name)
		assert.Equal(t, "1.0.0", info.Version)
		assert.Equal(t, "scale@1.0.0", f.Name())
		assert.Contains(t, info.Description, "factor")
		assert.JSONEq(t, `{"type":"object","required":["factor"],
			"properties":{"factor":{"type":"number","description":"what to multiply by"}},
			"additionalProperties":false}`, string(info.ConfigSchema))
		assert.Empty(t, info.Capabilities)
		assert.Subset(t, f.Exports(), []string{"_initialize", "wasmreg_abi_version", "wasmreg_info", "wasmreg_build", "wasmreg_predict"})
	})

	t.Run("imports", func(t *testing.T) {
		imports := importNames(f)
		assert.Subset(t, imports, []string{"wasmreg.input", "wasmreg.output", "wasmreg.error"})
		for _, imp := range imports {
			assert.NotContains(t, cSDKCapabilityImports, imp)
			if strings.HasPrefix(imp, "wasmreg.") {
				assert.Contains(t, []string{"wasmreg.input", "wasmreg.output", "wasmreg.error"}, imp,
					"the minimal example should import only what it uses")
			} else {
				assert.True(t, strings.HasPrefix(imp, "wasi_snapshot_preview1."), imp)
			}
		}
	})

	m := cSDKBuild(t, f, `{"factor": 2}`)
	t.Run("predict", func(t *testing.T) {
		long := make([]string, 5000)
		want := make([]string, len(long))
		for i := range long {
			long[i] = strconv.Itoa(i)
			want[i] = strconv.Itoa(2 * i)
		}
		for _, tc := range []struct{ name, in, want string }{
			{"integers", `[1, 2, -3]`, `[2,4,-6]`},
			{"fractions", `[0.1, 2.5]`, `[0.2,5]`},
			{"whitespace", " \t[ 1e3 ]\n", `[2000]`},
			{"large", `[1e300, -4e-3]`, `[2e300,-0.008]`},
			{"long", "[" + strings.Join(long, ",") + "]", "[" + strings.Join(want, ",") + "]"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				out, err := m.Predict(ctx, []byte(tc.in))
				require.NoError(t, err)
				assert.JSONEq(t, tc.want, string(out))
			})
		}
	})

	t.Run("bad config", func(t *testing.T) {
		for _, tc := range []struct{ name, config, msg string }{
			{"missing", `{}`, `config field "factor": missing`},
			{"string", `{"factor": "2"}`, `config field "factor": is a string, want a number`},
			{"out of range", `{"factor": 1e999}`, `config field "factor": number 1e999 is too large for a double`},
			{"twice", `{"factor": 1, "factor": 2}`, `config: field "factor" appears more than once`},
			{"unknown field", `{"factor": 2, "facter": 3}`, `config: unknown field "facter" (fields are "factor")`},
			{"not an object", `[2]`, `config: is an array, want an object`},
			{"not JSON", `{"factor": 2`, `config: malformed JSON at byte 12 (end of input): unterminated object`},
			{"trailing", `{"factor": 2} x`, `config: malformed JSON at byte 14 ('x'): data after the JSON value`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.Build(ctx, []byte(tc.config))
				assert.Equal(t, tc.msg, guestError(t, err, host.ExportBuild, 2))
			})
		}
	})

	t.Run("code without message", func(t *testing.T) {
		_, err := m.Predict(ctx, []byte(`[]`))
		assert.Empty(t, guestError(t, err, host.ExportPredict, 1))
		assert.ErrorContains(t, err, "export wasmreg_predict returned code 1")
	})

	t.Run("bad requests", func(t *testing.T) {
		for _, tc := range []struct{ name, in, msg string }{
			{"empty", ``, `request: empty; want a JSON array of numbers`},
			{"not JSON", `hello`, `request: malformed JSON at byte 0 ('h'): expected a value; want a JSON array of numbers`},
			{"object", `{"x": 1}`, `request: is an object, want an array; want a JSON array of numbers`},
			{"string element", `[1, "2"]`, `request: element 1 is a string, want a number; want a JSON array of numbers`},
			{"garbage", strings.Repeat("\x00\xff[{", 2500), `request: malformed JSON at byte 0 (byte 0x00): expected a value; want a JSON array of numbers`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := m.Predict(ctx, []byte(tc.in))
				assert.Equal(t, tc.msg, guestError(t, err, host.ExportPredict, 3))
			})
		}
		out, err := m.Predict(ctx, []byte(`[21]`))
		require.NoError(t, err, "a failed prediction leaves the model usable")
		assert.Equal(t, `[42]`, string(out))
	})
}

func TestCSDKCapabilities(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	weights := make([]byte, 1<<20+3)
	for i := range weights {
		weights[i] = byte(i * 7)
	}
	h, logs := cSDKHost(t,
		host.WithGrants(host.CapClock, host.CapRandom, host.CapArtifact),
		host.WithArtifacts(host.ArtifactMap{"weights": weights, "empty": {}, "text": []byte("hello")}))
	f, err := h.Load(ctx, cSDKCapsWasm(t))
	require.NoError(t, err)
	assert.Equal(t, []string{host.CapArtifact, host.CapClock, host.CapRandom}, cSDKWithoutLog(f.Info().Capabilities))
	assert.Subset(t, importNames(f), append([]string{"wasmreg.input", "wasmreg.output", "wasmreg.error", "wasmreg.log"},
		cSDKCapabilityImports...))

	m := cSDKBuild(t, f, `{}`)
	predict := func(t *testing.T, in string) string {
		t.Helper()
		out, err := m.Predict(ctx, []byte(in))
		require.NoError(t, err)
		return string(out)
	}

	t.Run("clock", func(t *testing.T) {
		var got struct {
			Now  int64    `json:"now"`
			Mono [2]int64 `json:"mono"`
		}
		require.NoError(t, json.Unmarshal([]byte(predict(t, "clock")), &got))
		assert.WithinDuration(t, time.Now(), time.Unix(0, got.Now), time.Minute)
		assert.Positive(t, got.Mono[0])
		assert.GreaterOrEqual(t, got.Mono[1], got.Mono[0], "monotonic never decreases")
	})

	t.Run("random seed", func(t *testing.T) {
		// The ABI's definition: ChaCha8 keyed by the seed.
		chacha := func(seed uint64, n int) []byte {
			b := make([]byte, n)
			host.NewChaCha8Random(seed).Fill(b)
			return b
		}
		// Seeded in wasmreg_build: two models, the same bytes.
		m1, m2 := cSDKBuild(t, f, `{"seed": 42}`), cSDKBuild(t, f, `{"seed": 42}`)
		out1, err := m1.Predict(ctx, []byte("build-bytes"))
		require.NoError(t, err)
		out2, err := m2.Predict(ctx, []byte("build-bytes"))
		require.NoError(t, err)
		assert.Equal(t, string(out1), string(out2))
		assert.Equal(t, hex.EncodeToString(chacha(42, 32)), string(out1))
		// The seed is read as an integer, exactly: 2^53 + 1 is not 2^53.
		big := cSDKBuild(t, f, `{"seed": 9007199254740993}`)
		out, err := big.Predict(ctx, []byte("build-bytes"))
		require.NoError(t, err)
		assert.Equal(t, hex.EncodeToString(chacha(1<<53+1, 32)), string(out))
		for _, tc := range []struct{ config, msg string }{
			{`{"seed": 2.5}`, `config field "seed": is 2.5, want an integer`},
			{`{"seed": -1}`, `config field "seed": is -1, want 0 to 9223372036854775807`},
			{`{"seed": 9223372036854775808}`, `config field "seed": is 9223372036854775808, want 0 to 9223372036854775807`},
			{`{"seed": "7"}`, `config field "seed": is a string, want a number`},
			{`{"sead": 7}`, `config: unknown field "sead" (fields are "seed")`},
		} {
			_, err := f.Build(ctx, []byte(tc.config))
			assert.Equal(t, tc.msg, guestError(t, err, host.ExportBuild, 2), tc.config)
		}

		// Seeded in wasmreg_predict, across a buffer refill of ChaCha8.
		for _, seed := range []uint64{0, 7, 1 << 63} {
			in := fmt.Sprintf("seed %d 1000", seed)
			got1, err := m1.Predict(ctx, []byte(in))
			require.NoError(t, err)
			got2, err := m2.Predict(ctx, []byte(in))
			require.NoError(t, err)
			assert.Equal(t, string(got1), string(got2))
			assert.Equal(t, hex.EncodeToString(chacha(seed, 1000)), string(got1), "seed %d", seed)
		}

		// random_u64 and random_double.
		b := chacha(9, 16)
		wantU := binary.LittleEndian.Uint64(b)
		wantD := float64(binary.LittleEndian.Uint64(b[8:])>>11) * 0x1p-53
		var u uint64
		var ds string
		_, err = fmt.Sscanf(predict(t, "seed-numbers 9"), "%d %s", &u, &ds)
		require.NoError(t, err)
		d, err := strconv.ParseFloat(ds, 64)
		require.NoError(t, err)
		assert.Equal(t, wantU, u)
		assert.Equal(t, wantD, d)
		assert.True(t, d >= 0 && d < 1)
	})

	t.Run("random unseeded", func(t *testing.T) {
		a, b := predict(t, "fill 32"), predict(t, "fill 32")
		assert.Len(t, a, 64)
		assert.NotEqual(t, a, b, "each call has its own stream")
		assert.NotEqual(t, hex.EncodeToString(make([]byte, 32)), a)
	})

	t.Run("artifacts", func(t *testing.T) {
		assert.Equal(t, string(weights), predict(t, "artifact weights"), "read in several pieces")
		assert.Equal(t, "hello", predict(t, "artifact text"))
		assert.Empty(t, predict(t, "artifact empty"), "an empty artifact is not an absent one")
		_, err := m.Predict(ctx, []byte("artifact nope"))
		assert.Equal(t, `artifact "nope" is absent (size -1)`, guestError(t, err, host.ExportPredict, 4))

		for _, tc := range []struct{ in, want string }{
			{"artifact-size weights", strconv.Itoa(len(weights))},
			{"artifact-size empty", "0"},
			{"artifact-size nope", "-1"},
			{"artifact-read text 1 3", "3 656c6c"},
			{"artifact-read text 3 64", "2 6c6f"},
			{"artifact-read text 5 8", "0 "},
			{"artifact-read text -1 8", "-2 "},
			{"artifact-read nope 0 8", "-1 "},
		} {
			assert.Equal(t, tc.want, predict(t, tc.in), tc.in)
		}
	})

	t.Run("log", func(t *testing.T) {
		predict(t, "log")
		for _, level := range []string{"DEBUG", "INFO", "WARN", "ERROR"} {
			want := map[string]string{"DEBUG": "-4", "INFO": "0", "WARN": "4", "ERROR": "8"}[level]
			assert.Contains(t, logs.String(), fmt.Sprintf(`level=%s msg="ccaps log at level %s"`, level, want))
		}
	})

	t.Run("failures", func(t *testing.T) {
		_, err := m.Predict(ctx, []byte("fail"))
		assert.Empty(t, guestError(t, err, host.ExportPredict, 7))
		assert.ErrorContains(t, err, "returned code 7")

		_, err = m.Predict(ctx, []byte("failf"))
		assert.Equal(t, "formatted 42 failure", guestError(t, err, host.ExportPredict, 5))

		out, err := m.Predict(ctx, []byte("output-then-fail"))
		assert.Equal(t, "failed after output", guestError(t, err, host.ExportPredict, 6))
		assert.Nil(t, out, "output of a failed call is discarded")

		_, err = m.Predict(ctx, []byte("no-such-command"))
		assert.Equal(t, "unknown command no-such-command", guestError(t, err, host.ExportPredict, 2))
	})

	t.Run("output", func(t *testing.T) {
		var lines strings.Builder
		for i := range 20000 { // 180 kB through the 64 KiB buffer
			fmt.Fprintf(&lines, "%08d\n", i)
		}
		chunk := func(n int) string {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte('a' + i%26)
			}
			return "<" + string(b) + ">"
		}
		for _, tc := range []struct{ in, want string }{
			{"lines 20000", lines.String()},
			{"lines 0", ""},
			{"chunk 10", chunk(10)},
			{"chunk 65535", chunk(65535)},
			{"chunk 200000", chunk(200000)},
			{"longf 10", "...<" + strings.Repeat("x", 10) + ">"},
			{"longf 65532", "...<" + strings.Repeat("x", 65532) + ">"}, // flushes, then fits the buffer
			{"longf 100000", "...<" + strings.Repeat("x", 100000) + ">"},
		} {
			got := predict(t, tc.in)
			if !assert.Equal(t, len(tc.want), len(got), tc.in) || got != tc.want {
				assert.Fail(t, "output differs", tc.in)
			}
		}
	})
}

func TestCSDKCapabilitiesNeedGrants(t *testing.T) {
	t.Parallel()
	wasm := cSDKCapsWasm(t)
	for _, tc := range []struct {
		name    string
		grants  []string
		missing []string
	}{
		{"none", nil, []string{"clock", "random", "artifact"}},
		{"clock", []string{host.CapClock}, []string{"random", "artifact"}},
		{"clock and random", []string{host.CapClock, host.CapRandom}, []string{"artifact"}},
		{"random and artifact", []string{host.CapRandom, host.CapArtifact}, []string{"clock"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := cSDKHost(t, host.WithGrants(tc.grants...))
			_, err := h.Load(context.Background(), wasm)
			require.ErrorIs(t, err, host.ErrNotGranted)
			for _, c := range tc.missing {
				assert.ErrorContains(t, err, fmt.Sprintf("needs capability %q", c))
			}
			for _, c := range tc.grants {
				assert.NotContains(t, err.Error(), fmt.Sprintf("needs capability %q", c))
			}
		})
	}
}

// cSDKJSONCases are JSON documents, valid and not, for the SDK's reader.
var cSDKJSONCases = []string{
	``, ` `, `null`, `true`, `false`, `nul`, `truex`, `0`, `-0`, `01`, `-`, `1.`, `.5`, `1e`, `1e+`, `1E-2`,
	`-12.5e+3`, `1e999`, `1e-400`, `123456789012345678901234567890`, `0.1000000000000000055511151231257827021181583404541015625`,
	`""`, `"a"`, `"\u00e9\ud83d\ude00"`, `"\ud800"`, `"\udc00x"`, `"\ud800\u0041"`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"\x01\"", "\"\t\"",
	`"unterminated`, `"\`, "\"\xff\xfe\"", "\"\xe2\x82\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xc0\xaf\"",
	`[]`, `[1,]`, `[,1]`, `[1 2]`, `[1,2]`, ` [ 1 , 2 ] `, `[`, `]`, `[[[]]]`, `[{}]`, `[1]]`,
	`{}`, `{"a":1}`, `{"a" 1}`, `{"a":}`, `{a:1}`, `{"a":1,}`, `{"a":1 "b":2}`, `{"a":{"b":[1,{"c":null}]}}`, `{"a":1}}`,
	`{"a":1,"a":2}`, "\x00", "[1]\x00", `[1e308, -1e308, 5e-324]`, `["x", 1]`, `[1, [2]]`, `[true]`,
	strings.Repeat("[", 128) + strings.Repeat("]", 128),
	strings.Repeat("[", 129) + strings.Repeat("]", 129),
	strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200),
	strings.Repeat("[", 10000),
}

// cSDKDepth returns the deepest nesting of brackets in s. It counts the
// brackets in strings too, so it may overestimate: good enough to set aside
// the documents that may be over the SDK's limit.
func cSDKDepth(s string) int {
	depth, deepest := 0, 0
	for _, c := range []byte(s) {
		switch c {
		case '[', '{':
			depth++
			deepest = max(deepest, depth)
		case ']', '}':
			depth--
		}
	}
	return deepest
}

// cSDKJSONChecker compares the SDK's JSON reader, run in the ccaps factory,
// with encoding/json.
type cSDKJSONChecker struct {
	m *host.Model
}

func (c cSDKJSONChecker) run(t *testing.T, cmd, payload string) (string, error) {
	t.Helper()
	out, err := c.m.Predict(context.Background(), []byte(cmd+"\n"+payload))
	if err != nil {
		require.ErrorIs(t, err, host.ErrGuest, "the reader must fail cleanly, never trap: %q", payload)
	}
	return string(out), err
}

func (c cSDKJSONChecker) check(t *testing.T, doc string) {
	t.Helper()
	valid := json.Valid([]byte(doc))
	got, err := c.run(t, "validate", doc)
	require.NoError(t, err)
	if cSDKDepth(doc) > 128 {
		if valid {
			assert.Contains(t, got, "nested deeper than 128 levels", "%q", doc)
		}
		return
	}
	if valid {
		assert.Equal(t, "ok", got, "validate %q", doc)
	} else {
		require.NotEqual(t, "ok", got, "validate %q", doc)
		var code, at int
		_, err := fmt.Sscanf(got, "%d %d", &code, &at)
		require.NoError(t, err, got)
		assert.Equal(t, -2, code, "validate %q: %s", doc, got)
		assert.LessOrEqual(t, at, len(doc), "offset of %q", doc)
	}

	// Arrays of numbers, compared bit for bit with encoding/json. Go reads
	// null into a float64 without complaint; the SDK wants numbers only.
	var elems []json.RawMessage
	var want []float64
	trimmed := strings.TrimLeft(doc, " \t\r\n")
	numbers := valid && strings.HasPrefix(trimmed, "[") &&
		json.Unmarshal([]byte(doc), &elems) == nil && json.Unmarshal([]byte(doc), &want) == nil
	for _, e := range elems {
		e = bytes.TrimSpace(e)
		numbers = numbers && len(e) > 0 && (e[0] == '-' || (e[0] >= '0' && e[0] <= '9'))
	}
	got, err = c.run(t, "numbers", doc)
	if !numbers {
		assert.Error(t, err, "numbers %q", doc)
	} else if assert.NoError(t, err, "numbers %q", doc) {
		var back []float64
		require.NoError(t, json.Unmarshal([]byte(got), &back), got)
		require.Len(t, back, len(want), doc)
		for i := range want {
			assert.Equal(t, math.Float64bits(want[i]), math.Float64bits(back[i]), "numbers %q [%d]: %v, want %v", doc, i, back[i], want[i])
		}
	}

	// Strings, decoded as encoding/json does.
	var s string
	str := valid && strings.HasPrefix(trimmed, `"`) && json.Unmarshal([]byte(doc), &s) == nil
	got, err = c.run(t, "string", doc)
	if !str {
		assert.Error(t, err, "string %q", doc)
	} else if assert.NoError(t, err, "string %q", doc) {
		assert.Equal(t, s, got, "string %q", doc)
	}
}

func cSDKCapsModel(t testing.TB) *host.Model {
	t.Helper()
	h, _ := cSDKHost(t, host.WithGrants(host.CapClock, host.CapRandom, host.CapArtifact))
	f, err := h.Load(context.Background(), cSDKCapsWasm(t))
	require.NoError(t, err)
	return cSDKBuild(t, f, `{}`)
}

func TestCSDKJSON(t *testing.T) {
	t.Parallel()
	c := cSDKJSONChecker{cSDKCapsModel(t)}

	t.Run("cases", func(t *testing.T) {
		for _, doc := range cSDKJSONCases {
			c.check(t, doc)
		}
	})

	t.Run("mutations", func(t *testing.T) {
		// Deterministic mutations of the cases: flipped, inserted, deleted
		// and truncated bytes.
		r := rand.New(rand.NewPCG(1, 2))
		alphabet := []byte("{}[],:\"\\/ -+.eE0123456789abfnrtu\x00\x1f\x7f\xc3\xa9\xff")
		for range 1500 {
			b := []byte(cSDKJSONCases[r.IntN(len(cSDKJSONCases))])
			for range 1 + r.IntN(3) {
				switch op := r.IntN(4); {
				case op == 0 && len(b) > 0:
					b[r.IntN(len(b))] = alphabet[r.IntN(len(alphabet))]
				case op == 1:
					i := r.IntN(len(b) + 1)
					b = slices.Insert(b, i, alphabet[r.IntN(len(alphabet))])
				case op == 2 && len(b) > 0:
					i := r.IntN(len(b))
					b = slices.Delete(b, i, i+1)
				case len(b) > 0:
					b = b[:r.IntN(len(b))]
				}
			}
			c.check(t, string(b))
		}
	})

	t.Run("find", func(t *testing.T) {
		for _, tc := range []struct{ key, doc, want string }{
			{"a", `{"a": [1, 2] }`, `[1, 2]`},
			{"b", `{"a":1,"b":{"c":2}}`, `{"c":2}`},
			{"é", `{"\u00e9": true}`, `true`},
			{"a\"b", `{"a\"b": null}`, `null`},
			{"a", `{"b": {"a": 1}}`, `-1 missing`},
			{"a", `{"a": 1, "a": 2}`, `-7 appears more than once`},
			{"a", `[{"a": 1}]`, `-3 is an array, want an object`},
			{"a", `{"a": 1`, `-2 malformed JSON at byte 7 (end of input): unterminated object`},
		} {
			out, err := c.m.Predict(context.Background(), []byte("find "+tc.key+"\n"+tc.doc))
			if err != nil {
				var ce *host.CallError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tc.want, ce.Message, tc.doc)
			} else {
				assert.Equal(t, tc.want, string(out), tc.doc)
			}
		}
	})

	t.Run("iterate", func(t *testing.T) {
		got, err := c.run(t, "iterate", ` [ 1 , "two", [3], {"four": 4}, null, true ] `)
		require.NoError(t, err)
		assert.Equal(t, "a number:1\na string:\"two\"\nan array:[3]\nan object:{\"four\": 4}\nnull:null\na boolean:true\n", got)
		got, err = c.run(t, "iterate", `{"a": 1, "b\n": [2, 3], "c":{}}`)
		require.NoError(t, err)
		assert.Equal(t, "\"a\"=1\n\"b\\n\"=[2, 3]\n\"c\"={}\n", got)
		got, err = c.run(t, "iterate", `[]`)
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	t.Run("quote", func(t *testing.T) {
		for _, s := range []string{"", "plain", `"quoted" \ back`, "tab\tnew\nline\r\x00\x01\x1f\x7f", "é😀", "bad \xff\xfe utf-8 \xe2\x82", "\xed\xa0\x80"} {
			got, err := c.run(t, "quote", s)
			require.NoError(t, err)
			require.True(t, json.Valid([]byte(got)), "%q", got)
			require.True(t, utf8.ValidString(got), "%q", got)
			var back string
			require.NoError(t, json.Unmarshal([]byte(got), &back))
			var want strings.Builder // each invalid byte becomes U+FFFD
			for i := 0; i < len(s); {
				r, n := utf8.DecodeRuneInString(s[i:])
				want.WriteRune(r)
				i += n
			}
			assert.Equal(t, want.String(), back, "%q", s)
		}
	})
}

// FuzzCSDKJSON compares the C SDK's JSON validation with encoding/json.
func FuzzCSDKJSON(f *testing.F) {
	for _, doc := range cSDKJSONCases {
		f.Add(doc)
	}
	c := cSDKJSONChecker{cSDKCapsModel(f)}
	f.Fuzz(func(t *testing.T, doc string) { c.check(t, doc) })
}

// ---- The centroid factory ----

// centroidIrisCorrect is how many of the 150 iris rows iris-config.json
// classifies correctly, per metric, as examples/factories/centroid/README.md
// states.
var centroidIrisCorrect = map[string]int{"euclidean": 139, "manhattan": 138}

type centroidResponse struct {
	Class     int       `json:"class"`
	Label     string    `json:"label"`
	Distances []float64 `json:"distances"`
}

func centroidDecode(t testing.TB, out []byte) centroidResponse {
	t.Helper()
	var r centroidResponse
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&r), string(out))
	return r
}

// centroidIris reads testdata/iris.csv: a header "rows,features,names…",
// then the features and the class of each row.
func centroidIris(t testing.TB) (rows [][]float64, classes []int, names []string) {
	t.Helper()
	file, err := os.Open(filepath.Join("centroid", "testdata", "iris.csv"))
	require.NoError(t, err)
	defer file.Close()
	r := csv.NewReader(file)
	r.FieldsPerRecord = -1
	records, err := r.ReadAll()
	require.NoError(t, err)
	require.Greater(t, len(records), 1)
	header := records[0]
	n, err := strconv.Atoi(header[0])
	require.NoError(t, err)
	d, err := strconv.Atoi(header[1])
	require.NoError(t, err)
	names = header[2:]
	require.Len(t, records, n+1)
	for _, rec := range records[1:] {
		require.Len(t, rec, d+1)
		row := make([]float64, d)
		for j := range row {
			row[j], err = strconv.ParseFloat(rec[j], 64)
			require.NoError(t, err)
		}
		class, err := strconv.Atoi(rec[d])
		require.NoError(t, err)
		rows, classes = append(rows, row), append(classes, class)
	}
	return rows, classes, names
}

type centroidConfig struct {
	Centroids [][]float64 `json:"centroids"`
	Labels    []string    `json:"labels"`
	Metric    string      `json:"metric"`
}

func centroidIrisConfig(t testing.TB) (centroidConfig, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("centroid", "iris-config.json"))
	require.NoError(t, err)
	var cfg centroidConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&cfg))
	return cfg, b
}

// centroidDistance is the reference: the factory's metrics in Go.
func centroidDistance(metric string, c, x []float64) float64 {
	s := 0.0
	for j := range c {
		if metric == "manhattan" {
			s += math.Abs(x[j] - c[j])
		} else {
			s += (x[j] - c[j]) * (x[j] - c[j])
		}
	}
	if metric == "manhattan" {
		return s
	}
	return math.Sqrt(s)
}

func centroidFactory(t testing.TB, opts ...host.Option) *host.Factory {
	t.Helper()
	h, _ := cSDKHost(t, opts...) // the factory needs no grant
	f, err := h.Load(context.Background(), centroidWasm(t))
	require.NoError(t, err)
	return f
}

func TestCentroidMetadata(t *testing.T) {
	t.Parallel()
	f := centroidFactory(t)
	info := f.Info()
	assert.Equal(t, "centroid@1.0.0", f.Name())
	assert.Contains(t, info.Description, "Nearest-centroid")
	assert.Empty(t, cSDKWithoutLog(info.Capabilities), "log needs no grant")
	for _, imp := range importNames(f) {
		assert.NotContains(t, cSDKCapabilityImports, imp)
	}
	var schema struct {
		Type       string                     `json:"type"`
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(info.ConfigSchema, &schema))
	assert.Equal(t, "object", schema.Type)
	assert.Equal(t, []string{"centroids"}, schema.Required)
	assert.ElementsMatch(t, []string{"centroids", "labels", "metric"}, slices.Collect(maps.Keys(schema.Properties)))
}

func TestCentroidIris(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rows, classes, names := centroidIris(t)
	cfg, cfgJSON := centroidIrisConfig(t)

	t.Run("config is the class means", func(t *testing.T) {
		require.Len(t, cfg.Centroids, len(names))
		assert.Equal(t, names, cfg.Labels)
		assert.Equal(t, "euclidean", cfg.Metric)
		for k, c := range cfg.Centroids {
			mean := make([]float64, len(rows[0]))
			n := 0
			for i, row := range rows {
				if classes[i] == k {
					n++
					for j, v := range row {
						mean[j] += v
					}
				}
			}
			require.Len(t, c, len(mean))
			for j := range mean {
				assert.InDelta(t, mean[j]/float64(n), c[j], 1e-9, "class %d feature %d", k, j)
			}
		}
	})

	f := centroidFactory(t)
	for _, metric := range []string{"euclidean", "manhattan"} {
		t.Run(metric, func(t *testing.T) {
			config := cfgJSON
			if metric != cfg.Metric {
				config = bytes.Replace(cfgJSON, []byte(`"`+cfg.Metric+`"`), []byte(`"`+metric+`"`), 1)
			}
			m := cSDKBuild(t, f, string(config))
			correct := 0
			for i, row := range rows {
				req, err := json.Marshal(row)
				require.NoError(t, err)
				out, err := m.Predict(ctx, req)
				require.NoError(t, err)
				got := centroidDecode(t, out)

				want, best := make([]float64, len(cfg.Centroids)), 0
				for k, c := range cfg.Centroids {
					want[k] = centroidDistance(metric, c, row)
					if want[k] < want[best] {
						best = k
					}
				}
				require.Len(t, got.Distances, len(want))
				for k := range want {
					assert.InEpsilon(t, want[k], got.Distances[k], 1e-12, "row %d distance %d", i, k)
				}
				assert.Equal(t, best, got.Class, "row %d", i)
				assert.Equal(t, cfg.Labels[got.Class], got.Label)
				if got.Class == classes[i] {
					correct++
				}
			}
			assert.Equal(t, centroidIrisCorrect[metric], correct, "accuracy %d/%d", correct, len(rows))
			t.Logf("%s: %d/%d correct (%.2f%%)", metric, correct, len(rows), 100*float64(correct)/float64(len(rows)))
		})
	}
}

func TestCentroidConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The factory's own config checks, as a host made WithoutConfigValidation
	// leaves them (schema_test.go checks the host's).
	f := centroidFactory(t, host.WithoutConfigValidation())

	t.Run("valid", func(t *testing.T) {
		g := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
		for _, tc := range []struct{ name, config, request, want string }{
			{"no labels", `{"centroids": [[0, 0], [10, 10]]}`, `[9, 8]`, `{"class":1,"label":"1","distances":[12.041594578792296,2.23606797749979]}`},
			{"one class", `{"centroids": [[1]], "labels": ["only"]}`, `[3]`, `{"class":0,"label":"only","distances":[2]}`},
			{"manhattan", `{"metric": "manhattan", "centroids": [[0, 0], [3, 3]]}`, `[1, 1]`, `{"class":0,"label":"0","distances":[2,4]}`},
			{"tie goes to the lowest class", `{"centroids": [[0], [2]], "labels": ["a", "b"]}`, `[1]`, `{"class":0,"label":"a","distances":[1,1]}`},
			{"escaped labels", `{"centroids": [[0], [1]], "labels": ["\u00e9t\u00e9 \"q\"", "tab\there"]}`, `[0]`, `{"class":0,"label":"été \"q\"","distances":[0,1]}`},
			{"squares overflow", `{"centroids": [[0, 0]]}`, "[" + g(0x3p700) + "," + g(0x1p702) + "]", `{"class":0,"label":"0","distances":[` + g(0x5p700) + `]}`},
			{"keys escaped", `{"c\u0065ntroids": [[1]]}`, `[1]`, `{"class":0,"label":"0","distances":[0]}`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				m := cSDKBuild(t, f, tc.config)
				out, err := m.Predict(ctx, []byte(tc.request))
				require.NoError(t, err)
				assert.JSONEq(t, tc.want, string(out))
			})
		}
	})

	t.Run("invalid", func(t *testing.T) {
		long := strings.Repeat("é", 129) // 258 bytes
		for _, tc := range []struct{ name, config, msg string }{
			{"empty object", `{}`, `config field "centroids": missing, want an array of centroids such as [[0, 1], [2, 3]]`},
			{"not an object", `[[1, 2]]`, `config: is an array, want an object`},
			{"not JSON", `{"centroids": [[1, 2]`, `config: malformed JSON at byte 21 (end of input): unterminated array`},
			{"unknown field", `{"centroids": [[1]], "metrik": "manhattan"}`, `config: unknown field "metrik" (fields are "centroids", "labels", "metric")`},
			{"duplicate field", `{"centroids": [[1]], "centroids": [[2]]}`, `config: field "centroids" appears more than once`},
			{"centroids not an array", `{"centroids": {"a": 1}}`, `config field "centroids": is an object, want an array of arrays of numbers`},
			{"no centroids", `{"centroids": []}`, `config field "centroids": empty, want at least one centroid`},
			{"row not an array", `{"centroids": [[1, 2], 3]}`, `config field "centroids": row 1 is a number, want an array of numbers`},
			{"empty row", `{"centroids": [[]]}`, `config field "centroids": row 0 is empty, want at least one number`},
			{"short row", `{"centroids": [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3]]}`, `config field "centroids": row 2 has 3 numbers, row 0 has 4`},
			{"long row", `{"centroids": [[1], [1, 2]]}`, `config field "centroids": row 1 has 2 numbers, row 0 has 1`},
			{"one value", `{"centroids": [[1, 2], [1]]}`, `config field "centroids": row 1 has 1 number, row 0 has 2`},
			{"one label", `{"centroids": [[1], [2]], "labels": ["a"]}`, `config field "labels": has 1 label, want 2 (one per centroid)`},
			{"string value", `{"centroids": [[1, 2], [3, "4"]]}`, `config field "centroids": element [1][1] is a string, want a number`},
			{"null value", `{"centroids": [[null]]}`, `config field "centroids": element [0][0] is null, want a number`},
			{"huge value", `{"centroids": [[1, -2e400]]}`, `config field "centroids": element [0][1]: number -2e400 is too large for a double`},
			{"labels not an array", `{"centroids": [[1]], "labels": "a"}`, `config field "labels": is a string, want an array`},
			{"too few labels", `{"centroids": [[1], [2], [3]], "labels": ["a", "b"]}`, `config field "labels": has 2 labels, want 3 (one per centroid)`},
			{"too many labels", `{"centroids": [[1]], "labels": ["a", "b"]}`, `config field "labels": has 2 labels, want 1 (one per centroid)`},
			{"label not a string", `{"centroids": [[1], [2]], "labels": ["a", 2]}`, `config field "labels": label 1 is a number, want a string`},
			{"empty label", `{"centroids": [[1], [2]], "labels": ["a", ""]}`, `config field "labels": label 1 is empty`},
			{"long label", `{"centroids": [[1]], "labels": ["` + long + `"]}`, `config field "labels": label 0 is 258 bytes long, want at most 256`},
			{"unknown metric", `{"centroids": [[1]], "metric": "cosine"}`, `config field "metric": "cosine" is not "euclidean" or "manhattan"`},
			{"metric not a string", `{"centroids": [[1]], "metric": 2}`, `config field "metric": is a number, want "euclidean" or "manhattan"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.Build(ctx, []byte(tc.config))
				assert.Equal(t, tc.msg, guestError(t, err, host.ExportBuild, 2))
			})
		}
	})
}

func TestCentroidRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, cfgJSON := centroidIrisConfig(t)
	m := cSDKBuild(t, centroidFactory(t), string(cfgJSON))
	garbage := make([]byte, 10<<10)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range garbage {
		garbage[i] = byte(r.Uint32())
	}
	garbage[0] = '[' // get past the first byte
	for _, tc := range []struct{ name, in, msg string }{
		{"empty", ``, `request: empty (want a JSON array of 4 numbers)`},
		{"blank", " \n", `request: empty (want a JSON array of 4 numbers)`},
		{"not JSON", `sepal 5.1`, `request: malformed JSON at byte 0 ('s'): expected a value (want a JSON array of 4 numbers)`},
		{"unterminated", `[5.1, 3.5`, `request: malformed JSON at byte 9 (end of input): unterminated array (want a JSON array of 4 numbers)`},
		{"object", `{"x": [5.1, 3.5, 1.4, 0.2]}`, `request: is an object, want a JSON array of 4 numbers`},
		{"number", `5.1`, `request: is a number, want a JSON array of 4 numbers`},
		{"too short", `[5.1, 3.5, 1.4]`, `request: has 3 numbers, want 4`},
		{"too long", `[5.1, 3.5, 1.4, 0.2, 7, 8]`, `request: has 6 numbers, want 4`},
		{"one number", `[5.1]`, `request: has 1 number, want 4`},
		{"no numbers", `[]`, `request: has 0 numbers, want 4`},
		{"string element", `[5.1, "3.5", 1.4, 0.2]`, `request: element 1 is a string, want a number`},
		{"nested", `[[5.1, 3.5, 1.4, 0.2]]`, `request: element 0 is an array, want a number`},
		{"out of range", `[5.1, 1e400, 1.4, 0.2]`, `request: element 1: number 1e400 is too large for a double`},
		{"distance overflow", `[1.7e308, -1.7e308, 0, 0]`, `request: its distance to centroid 0 is too large for a double`},
		{"deep", strings.Repeat("[", 5000), `request: JSON nested deeper than 128 levels at byte 128 (want a JSON array of 4 numbers)`},
		{"10 KB of garbage", string(garbage), ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Predict(ctx, []byte(tc.in))
			msg := guestError(t, err, host.ExportPredict, 3)
			if tc.msg == "" {
				assert.True(t, strings.HasPrefix(msg, "request: malformed JSON at byte "), msg)
			} else {
				assert.Equal(t, tc.msg, msg)
			}
			// The model is still usable.
			out, err := m.Predict(ctx, []byte(`[5.1, 3.5, 1.4, 0.2]`))
			require.NoError(t, err)
			assert.Equal(t, "setosa", centroidDecode(t, out).Label)
		})
	}
}

// TestCSDKIntegersAndNumbers checks, under the real host, the C SDK's
// integer reader and writer (ccaps's "ints") and that its numbers
// round-trip with encoding/json both ways: what Go writes, the SDK reads
// to the same bits, and what the SDK writes, Go reads to the same bits.
func TestCSDKIntegersAndNumbers(t *testing.T) {
	t.Parallel()
	m := cSDKCapsModel(t)
	ctx := context.Background()
	predict := func(cmd, payload string) (string, error) {
		out, err := m.Predict(ctx, []byte(cmd+"\n"+payload))
		return string(out), err
	}

	t.Run("ints", func(t *testing.T) {
		for _, tc := range []struct{ in, want, msg string }{
			{`[]`, `[]`, ""},
			{`[0, -0, 1, -1]`, `[0,0,1,-1]`, ""},
			{`[9223372036854775807, -9223372036854775808]`, `[9223372036854775807,-9223372036854775808]`, ""},
			{`[1e3, 2.0, 25E-1]`, "", `-3 element 2 is 25E-1, want an integer`},
			{`[1e3, 2.0]`, `[1000,2]`, ""},
			{`[9223372036854775808]`, "", `-4 element 0 is 9223372036854775808, want -9223372036854775808 to 9223372036854775807`},
			{`[1, "2"]`, "", `-3 element 1 is a string, want a number`},
			{`{"a": 1}`, "", `-3 is an object, want an array`},
		} {
			got, err := predict("ints", tc.in)
			if tc.msg != "" {
				assert.Equal(t, tc.msg, guestError(t, err, host.ExportPredict, 3), tc.in)
				continue
			}
			require.NoError(t, err, tc.in)
			assert.Equal(t, tc.want, got, tc.in)
		}

		// Every value Go writes for an int64 reads back exactly.
		r := rand.New(rand.NewPCG(3, 4))
		want := []int64{math.MaxInt64, math.MinInt64, 1 << 53, 1<<53 + 1, -(1<<53 + 1)}
		for range 200 {
			want = append(want, int64(r.Uint64()))
		}
		b, err := json.Marshal(want)
		require.NoError(t, err)
		got, err := predict("ints", string(b))
		require.NoError(t, err)
		assert.Equal(t, string(b), got, "the SDK writes integers as encoding/json does")
	})

	t.Run("numbers", func(t *testing.T) {
		// Edge values and random bit patterns: subnormals, the extremes,
		// negative zero, integers past 2^53, and what Go writes with an
		// exponent (1e-7, 1e+21).
		want := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-7, 1e21, 1e20, 123456789012345678,
			math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 2.2250738585072014e-308,
			4.9406564584124654e-324 * 3, 1<<53 + 2, 0.30000000000000004, 5e-324, 1.7976931348623157e308}
		r := rand.New(rand.NewPCG(5, 6))
		for len(want) < 1000 {
			if f := math.Float64frombits(r.Uint64()); !math.IsNaN(f) && !math.IsInf(f, 0) {
				want = append(want, f)
			}
		}
		b, err := json.Marshal(want)
		require.NoError(t, err)
		got, err := predict("numbers", string(b))
		require.NoError(t, err)
		var back []float64
		require.NoError(t, json.Unmarshal([]byte(got), &back), got)
		require.Len(t, back, len(want))
		for i := range want {
			assert.Equal(t, math.Float64bits(want[i]), math.Float64bits(back[i]), "[%d]: %v, read back as %v", i, want[i], back[i])
		}
	})
}
