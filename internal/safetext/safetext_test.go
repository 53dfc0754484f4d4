package safetext_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/internal/safetext"
)

// hostile is every kind of character the package escapes, as a guest would
// send it: a clear-screen, a window title, a colour, C1 CSI (as UTF-8 and
// as a raw byte), bidi overrides and isolates, separators and DEL.
const hostile = "a\x1b[2Jb\x1b]0;pwned\x07c\x1b[31md\u009b2Je\x9bf\u202eg\u2066h\u2069i\u061cj\u200ek\u200fl\u2028m\u2029n\x7fo\tp\r\nq\x00"

func TestLine(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  string
	}{
		{"plain", "hello, world", 0, "hello, world"},
		{"plain unicode", "naïve ✓ 字", 0, "naïve ✓ 字"},
		{"U+FFFD itself", "\ufffd", 0, "\ufffd"},
		{"tab kept", "a\tb", 0, "a\tb"},
		{"hostile", hostile, 0,
			`a\x1b[2Jb\x1b]0;pwned\x07c\x1b[31md\u009b2Je\x9bf\u202eg\u2066h\u2069i\u061cj\u200ek\u200fl\u2028m\u2029n\x7fo` +
				"\t" + `p\x0d\x0aq\x00`},
		{"every bidi control", "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069", 0,
			`\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069`},
		{"C1 edges", "\u0080\u009f\u00a0", 0, `\u0080\u009f` + "\u00a0"},
		{"invalid UTF-8", "a\xff\xc3(b\xe2\x80", 0, `a\xff\xc3(b\xe2\x80`},
		{"within the limit", "abcdef", 6, "abcdef"},
		{"cut", "abcdefgh", 4, "abcd" + safetext.Mark},
		{"cut before a rune", "abc字", 4, "abc" + safetext.Mark},
		{"cut before an escape", "ab\x1bcd", 4, "ab" + safetext.Mark},
		{"escape at the limit", "ab\x1b", 6, `ab\x1b`},
		{"escapes count", "\x1b\x1b\x1b", 8, `\x1b\x1b` + safetext.Mark},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := safetext.Line(tc.in, tc.limit)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, got, safetext.LineBytes([]byte(tc.in), tc.limit))
			if tc.limit == 0 {
				assert.Equal(t, got, safetext.Line(got, 0), "escaping twice changes nothing")
			}
		})
	}
}

func TestField(t *testing.T) {
	assert.Equal(t, `a\x09b\x1bc`, safetext.Field("a\tb\x1bc", 0))
	assert.Equal(t, "name", safetext.Field("name", 4))
	assert.Equal(t, "na"+safetext.Mark, safetext.Field("name\t", 2))
}

func TestEscaped(t *testing.T) {
	for _, r := range "\x00\x1b\x1f\x7f\u0080\u009b\u009f\u061c\u200e\u200f\u202a\u202e\u2066\u2069\u2028\u2029\t" {
		assert.True(t, safetext.Escaped(r), "%U", r)
	}
	for _, r := range " ~\u00a0\u00e9\u200d\u2030\u2065\u206a\ufeff\ufffd\U0001f600" {
		assert.False(t, safetext.Escaped(r), "%U", r)
	}
}

func TestIndex(t *testing.T) {
	assert.Equal(t, -1, safetext.Index("fine\tline ✓"))
	assert.Equal(t, 1, safetext.Index("a\x1b"))
	assert.Equal(t, 2, safetext.Index("é\u202e"))
	assert.Equal(t, 1, safetext.Index("a\xff"))
	assert.Equal(t, 0, safetext.Index("\n"))
}

func TestJSON(t *testing.T) {
	v := map[string]any{"description": hostile, "list": []string{"\u202e", "\u009b"}}
	b, err := json.MarshalIndent(v, "", "\t")
	require.NoError(t, err)
	safe := safetext.JSON(b)
	var lines []string
	for line := range strings.SplitSeq(string(safe), "\n") {
		lines = append(lines, line)
		assert.Equal(t, -1, safetext.Index(line), "no raw control in %q", line)
	}
	var got map[string]any
	require.NoError(t, json.Unmarshal(safe, &got), "%s", safe)
	// encoding/json decodes the raw byte 0x9b, invalid UTF-8, as U+FFFD,
	// whether it is raw or escaped.
	want := map[string]any{"description": strings.ToValidUTF8(hostile, "\ufffd"), "list": []any{"\u202e", "\u009b"}}
	assert.Equal(t, want, got, "the same value, losslessly")

	clean := []byte(`{"a": "plain ✓", "b": [1, 2]}`)
	assert.Equal(t, &clean[0], &safetext.JSON(clean)[0], "returned as it is")
	assert.Equal(t, `"\ufffd\u202e"`, string(safetext.JSON([]byte("\"\xff\u202e\""))))
}

func TestWrap(t *testing.T) {
	assert.NoError(t, safetext.Wrap(nil, 0))
	plain := errors.New("plain")
	assert.Same(t, plain, safetext.Wrap(plain, 0), "nothing to escape: the error itself")

	err := fmt.Errorf("import %s: %w", "\x1b[2J\u202e", fs.ErrNotExist)
	safe := safetext.Wrap(err, 0)
	assert.Equal(t, `import \x1b[2J\u202e: file does not exist`, safe.Error())
	assert.ErrorIs(t, safe, fs.ErrNotExist, "the chain is kept")
	var pe *fs.PathError
	assert.False(t, errors.As(safe, &pe))
	assert.Equal(t, "0123"+safetext.Mark, safetext.Wrap(errors.New("0123456789\x1b"), 4).Error())
}

// FuzzLine checks the promises of Line and Field on any input: the result
// is valid UTF-8, holds no character that is escaped, keeps within its
// limit, is the input itself when nothing needed escaping, and escaping
// it again changes nothing.
func FuzzLine(f *testing.F) {
	f.Add(hostile, 0)
	f.Add(hostile, 7)
	f.Add("plain text", 3)
	f.Add("\xe2\x80\xae\xff\xc2", 5)
	f.Add("", 1)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		limit %= 1 << 12
		for _, tab := range []bool{true, false} {
			got := safetext.Field(s, limit)
			if tab {
				got = safetext.Line(s, limit)
			}
			if !utf8.ValidString(got) {
				t.Fatalf("invalid UTF-8: %q", got)
			}
			for _, r := range got {
				if safetext.Escaped(r) && !(tab && r == '\t') {
					t.Fatalf("%U left raw in %q", r, got)
				}
			}
			if limit > 0 && len(got) > limit+len(safetext.Mark) {
				t.Fatalf("%d bytes, over the limit %d and the mark: %q", len(got), limit, got)
			}
			cut := strings.HasSuffix(got, safetext.Mark) && !strings.HasSuffix(s, safetext.Mark)
			if cut && limit <= 0 {
				t.Fatalf("cut without a limit: %q", got)
			}
			if utf8.ValidString(s) && (limit <= 0 || len(s) <= limit) && strings.IndexFunc(s, func(r rune) bool {
				return safetext.Escaped(r) && !(tab && r == '\t')
			}) < 0 && got != s {
				t.Fatalf("clean text changed: %q -> %q", s, got)
			}
			if limit <= 0 {
				again := safetext.Field(got, 0)
				if tab {
					again = safetext.Line(got, 0)
				}
				if again != got {
					t.Fatalf("escaping twice changed %q to %q", got, again)
				}
			}
		}
	})
}

// FuzzJSON checks that JSON keeps any JSON document valid and equal in
// value, and leaves no escaped character raw.
func FuzzJSON(f *testing.F) {
	f.Add(`{"a":"` + strings.ReplaceAll(hostile, "\"", "") + `"}`)
	f.Add(`["\u001b", "` + "\u202e\x7f" + `"]`)
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return
		}
		got := safetext.JSON([]byte(s))
		if !json.Valid(got) {
			t.Fatalf("invalid JSON: %q -> %q", s, got)
		}
		before, after := decode(t, []byte(s)), decode(t, got)
		assert.Equal(t, before, after)
		for _, r := range string(got) {
			if safetext.Escaped(r) && r != '\t' && r != '\n' && r != '\r' {
				t.Fatalf("%U left raw in %q", r, got)
			}
		}
	})
}

// decode decodes valid JSON, numbers as written.
func decode(t *testing.T, b []byte) any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	return v
}

func BenchmarkLine(b *testing.B) {
	clean := strings.Repeat("a plain log line of guest text ", 8)
	for _, bc := range []struct{ name, s string }{{"clean", clean}, {"hostile", hostile}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = safetext.Line(bc.s, 4096)
			}
		})
	}
}
