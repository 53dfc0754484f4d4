// Package safetext makes text that a guest chose safe to show a person or
// to write to a log: module and export names, metadata, error messages, log
// lines, responses printed on a terminal. A terminal obeys what it is sent:
// an ESC or C1 sequence can clear the screen, recolour it, set the window
// title or, on some terminals, answer back as if typed; a bidi control makes
// text read in another order than it is stored (CVE-2021-42574); a line or
// paragraph separator breaks one log record into two. Every such character,
// and every byte that is not valid UTF-8, becomes a visible escape.
//
// The escapes are \xNN for a byte (a C0 control, DEL, or a byte that is not
// valid UTF-8) and \uNNNN for a code point (a C1 control, a bidi control,
// U+2028, U+2029). Backslashes are not escaped, so that escaping twice
// changes nothing; the escapes say what was there, they are not a lossless
// encoding (use [JSON] for that inside JSON).
//
// Every function of the package is safe for concurrent use.
package safetext

import (
	"strings"
	"unicode/utf8"
)

// Mark ends text cut at its limit.
const Mark = "…[truncated]"

const hexDigits = "0123456789abcdef"

// Escaped reports whether r is written as an escape. Tab is escaped by
// [Field] but not by [Line], and is reported here as escaped.
func Escaped(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, 0x80 <= r && r <= 0x9f: // C0, DEL, C1
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, // ALM, LRM, RLM
		0x202a <= r && r <= 0x202e, // LRE, RLE, PDF, LRO, RLO
		0x2066 <= r && r <= 0x2069: // LRI, RLI, FSI, PDI
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	}
	return false
}

// Line returns s safe for one line of text: every character [Escaped]
// reports but tab, and every byte of invalid UTF-8, replaced by its escape.
// If limit is positive, the result holds at most limit bytes of text
// followed, if anything was cut, by [Mark]; it is never cut inside a
// character or an escape. A limit of 0 or less means no limit.
func Line(s string, limit int) string { return escape(s, limit, true) }

// Field is [Line] with tabs escaped too: for a name or a table cell, where
// a tab would move the columns.
func Field(s string, limit int) string { return escape(s, limit, false) }

// LineBytes is [Line] of b.
func LineBytes(b []byte, limit int) string { return escape(string(b), limit, true) }

// Index returns the byte offset of the first character of s that [Line]
// would escape (tab is allowed), or -1 if there is none. Tests use it to
// check output.
func Index(s string) int { return index(s, true) }

func index(s string, tab bool) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf { // ASCII: the common case, one comparison or two
			if c < 0x20 && !(tab && c == '\t') || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || Escaped(r) {
			return i
		}
		i += size
	}
	return -1
}

func escape(s string, limit int, tab bool) string {
	first := index(s, tab)
	if first < 0 && (limit <= 0 || len(s) <= limit) {
		return s
	}
	if first < 0 {
		first = len(s)
	}
	var b strings.Builder
	b.Grow(min(len(s), max(limit, 0)+len(Mark)) + 16)
	// put appends one piece of the result, or the mark if it does not fit.
	put := func(piece string) bool {
		if limit > 0 && b.Len()+len(piece) > limit {
			b.WriteString(Mark)
			return false
		}
		b.WriteString(piece)
		return true
	}
	var esc [6]byte
	i := 0
	if first > 0 {
		// The clean prefix, cut on a character boundary if it is too long.
		prefix := s[:first]
		if limit > 0 && len(prefix) > limit {
			cut := limit
			for cut > 0 && !utf8.RuneStart(s[cut]) {
				cut--
			}
			return s[:cut] + Mark
		}
		b.WriteString(prefix)
		i = first
	}
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r == utf8.RuneError && size == 1: // not UTF-8: the byte
			piece = byteEscape(&esc, s[i])
		case r < utf8.RuneSelf && (r >= 0x20 && r != 0x7f || tab && r == '\t'):
			piece = s[i : i+1]
		case r < utf8.RuneSelf:
			piece = byteEscape(&esc, s[i])
		case Escaped(r):
			piece = runeEscape(&esc, r)
		default:
			piece = s[i : i+size]
		}
		if !put(piece) {
			break
		}
		i += size
	}
	return b.String()
}

func byteEscape(buf *[6]byte, c byte) string {
	buf[0], buf[1], buf[2], buf[3] = '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf]
	return string(buf[:4])
}

// runeEscape escapes r, which is below U+10000.
func runeEscape(buf *[6]byte, r rune) string {
	buf[0], buf[1] = '\\', 'u'
	for i := range 4 {
		buf[5-i] = hexDigits[r&0xf]
		r >>= 4
	}
	return string(buf[:6])
}

// JSON returns the valid JSON document b with every character [Escaped]
// reports that JSON allows raw (DEL, C1 and bidi controls, U+2028, U+2029:
// all inside strings, where they may appear raw) written as a JSON \u
// escape, and every byte of invalid UTF-8 as \ufffd. Tab, CR and LF are
// kept: in valid JSON they are whitespace between tokens; other C0
// controls, which valid JSON never holds raw, are escaped too. The document
// decodes to the same value, but for invalid UTF-8, which a decoder
// replaces with U+FFFD anyway. b is returned as it is if nothing needs
// escaping.
func JSON(b []byte) []byte {
	clean := func(r rune, size int) bool {
		switch {
		case r == utf8.RuneError && size == 1:
			return false
		case r == '\t', r == '\n', r == '\r':
			return true
		}
		return !Escaped(r)
	}
	i := 0
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		if !clean(r, size) {
			break
		}
		i += size
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	out = append(out, b[:i]...)
	var esc [6]byte
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = append(out, `\ufffd`...)
		case clean(r, size):
			out = append(out, b[i:i+size]...)
		default:
			out = append(out, runeEscape(&esc, r)...)
		}
		i += size
	}
	return out
}

// Wrap returns an error whose message is err's made safe by [Line] with
// limit, and that unwraps to err, so that [errors.Is] and [errors.As] see
// through it. It returns nil for nil, and err itself if its message needs
// nothing.
func Wrap(err error, limit int) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	safe := Line(msg, limit)
	if safe == msg {
		return err
	}
	return &safeError{msg: safe, err: err}
}

type safeError struct {
	msg string
	err error
}

func (e *safeError) Error() string { return e.msg }
func (e *safeError) Unwrap() error { return e.err }
