// Package cjson_test tests the C SDK's JSON reader and writer,
// guest-sdk/c/wasmreg_json.h, natively: testdata/json_test.c is built with the host's
// C compiler under AddressSanitizer and UndefinedBehaviorSanitizer, runs
// its own checks, meets hostile documents, and quotes strings that Go's
// encoding/json must quote byte for byte the same.
package cjson_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildNative compiles json_test.c with sanitizers and returns the binary.
func buildNative(t *testing.T) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Fatalf("no C compiler (cc) on PATH: run `make deps`, which installs gcc: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "json_test")
	cmd := exec.Command(cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-O1",
		"-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
		"-I", "..", "-o", bin, filepath.Join("testdata", "json_test.c"), "-lm")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s: %s (the sanitizer runtimes come with gcc: run `make deps`)", cmd, out)
	return bin
}

// run runs the native binary in mode with records as its input, and
// returns its output lines.
func run(t *testing.T, bin, mode string, records [][]byte) []string {
	t.Helper()
	var in bytes.Buffer
	for _, r := range records {
		require.NoError(t, binary.Write(&in, binary.LittleEndian, uint32(len(r))))
		in.Write(r)
	}
	cmd := exec.Command(bin, mode)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS=print_stacktrace=1")
	out, err := cmd.Output()
	require.NoError(t, err, "json_test %s: %s", mode, stderr.String())
	require.Empty(t, stderr.String(), "json_test %s wrote to stderr", mode)
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NoError(t, sc.Err())
	return lines
}

func TestNativeSelftest(t *testing.T) {
	bin := buildNative(t)
	cmd := exec.Command(bin, "selftest")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Regexp(t, `^[1-9][0-9]* checks, 0 failed\n$`, string(out))
}

// quoteCases are strings whose escaping matters, and random ones.
func quoteCases() [][]byte {
	var cases [][]byte
	for b := 0; b < 256; b++ {
		cases = append(cases, []byte{byte(b)}, []byte{'a', byte(b), 'z'})
	}
	for _, s := range []string{
		"", "plain", `"quoted"`, `back\slash`, "<script>&amp;</script>", "\u2028\u2029", "\u2027\u202a",
		"\x7f", "é", "日本語", "😀", "\xed\xa0\x80", "\xed\x9f\xbf", "\xc0\x80", "\xc2", "\xe2\x82", "\xf0\x9f\x98",
		"\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xe0\x80\xaf", "\xef\xbf\xbd", "\xff\xfe",
		"a\x00b", "\b\f\n\r\t\v\x1b\x1f", "\xe2\x80\xa8x\xe2\x80", strings.Repeat("\xe2\x80\xa9", 50),
	} {
		cases = append(cases, []byte(s))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "\"", "\\", "<", ">", "&", "\n", "\x01", "\x7f", "\x80", "\xbf", "\xc3", "\xa9", "\xe2",
		"\x80", "\xa8", "\xed", "\xa0", "\xf0", "\x9f", "\xf4", "\x90", "\xff", "é", "😀", "\u2028", "\u2029"}
	for i := 0; i < 3000; i++ {
		var b []byte
		for n := rng.IntN(24); n > 0; n-- {
			b = append(b, alphabet[rng.IntN(len(alphabet))]...)
		}
		cases = append(cases, b)
	}
	for i := 0; i < 500; i++ {
		b := make([]byte, rng.IntN(40))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		cases = append(cases, b)
	}
	return cases
}

// TestQuoteMatchesEncodingJSON checks that wasmreg_json_write_string
// escapes every string exactly as Go's json.Marshal does.
func TestQuoteMatchesEncodingJSON(t *testing.T) {
	bin := buildNative(t)
	cases := quoteCases()
	got := run(t, bin, "quote", cases)
	require.Len(t, got, len(cases))
	mismatches := 0
	for i, c := range cases {
		want, err := json.Marshal(string(c))
		require.NoError(t, err)
		if got[i] != string(want) {
			mismatches++
			if mismatches <= 10 {
				t.Errorf("quote(%q) = %s, encoding/json says %s", c, got[i], want)
			}
		}
		assert.True(t, utf8.ValidString(got[i]) && json.Valid([]byte(got[i])), "quote(%q) = %q is not valid JSON", c, got[i])
	}
	assert.Zero(t, mismatches, "of %d strings", len(cases))
}

// hostileDocs are documents of every shape, broken in every way.
func hostileDocs() [][]byte {
	seeds := []string{
		`{"a": 1, "b": [[1, 2], [3, 4]]}`, `{"a": "x\u00e9\"y", "b": []}`, `[1, -2.5e-3, 1e999, 0, -0]`,
		`{"a": {"b": [true, false, null]}}`, `"\ud83d\ude00\ud800x"`, `[[1], [2, 3], "x"]`, `{"a": 1, "a": 2}`,
		`9223372036854775808`, `-9223372036854775809`, `1.0e+2`, `[]`, `{}`, `""`, `null`, ` 3 `,
	}
	var docs [][]byte
	for _, s := range seeds {
		for i := 0; i <= len(s); i++ { // every truncation
			docs = append(docs, []byte(s[:i]))
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 3000; i++ {
		b := []byte(seeds[rng.IntN(len(seeds))])
		for n := 1 + rng.IntN(3); n > 0 && len(b) > 0; n-- {
			switch j := rng.IntN(len(b)); rng.IntN(3) {
			case 0:
				const junk = "{}[]\",:\\0-e.1 \x00\xff"
				b[j] = junk[rng.IntN(len(junk))]
			case 1:
				b = append(b[:j], b[j+1:]...)
			default:
				b = append(b[:j], append([]byte{b[j]}, b[j:]...)...)
			}
		}
		docs = append(docs, b)
	}
	docs = append(docs, []byte(strings.Repeat("[", 129)+strings.Repeat("]", 129)),
		[]byte(strings.Repeat("[", 100000)), []byte(strings.Repeat("1", 5000)),
		[]byte(`"`+strings.Repeat(`\u`, 1000)), []byte(`{"a":`+strings.Repeat(`{"a":`, 127)+`1`+strings.Repeat("}", 128)))
	return docs
}

// TestReaderOnHostileInput runs every reader function on hostile
// documents under the sanitizers, and checks that the reader accepts
// exactly what encoding/json accepts.
func TestReaderOnHostileInput(t *testing.T) {
	bin := buildNative(t)
	docs := hostileDocs()
	got := run(t, bin, "read", docs)
	require.Len(t, got, len(docs))
	for i, d := range docs {
		deep := bytes.Count(d, []byte("[")) > 128 || bytes.Count(d, []byte("{")) > 128
		if deep {
			continue
		}
		valid := strings.HasPrefix(got[i], "0 ")
		assert.Equal(t, json.Valid(d), valid, "wasmreg_json_validate(%q): %s", d, got[i])
	}
}
