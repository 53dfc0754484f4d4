package wasmbin

import (
	"fmt"
	"unicode/utf8"
)

// cursor reads one region of a module (a section's payload) and keeps
// the first error: after it every read returns zero values, so that a
// decoder checks err once per entry instead of after every read.
type cursor struct {
	b    []byte // the whole module
	p    int    // the next byte to read, an offset in b
	end  int    // the end of the region being read
	err  error
	what string // what is being read, for errors: "import"
	idx  int    // which entry of it, or -1 for the section itself
}

// where names what the cursor is reading: "import[3]" or "import section".
func (c *cursor) where() string {
	if c.idx < 0 {
		return c.what + " section"
	}
	return fmt.Sprintf("%s[%d]", c.what, c.idx)
}

// fail records the first error: what is being read, where in the module,
// what is wrong, wrapping sentinel.
func (c *cursor) fail(sentinel error, format string, args ...any) {
	if c.err != nil {
		return
	}
	c.err = fmt.Errorf("%s at byte %#x: %s: %w", c.where(), c.p, fmt.Sprintf(format, args...), sentinel)
}

// failLimit records the first error as a *LimitError.
func (c *cursor) failLimit(limit string, found uint64, max uint64) {
	if c.err != nil {
		return
	}
	c.err = &LimitError{Limit: limit, Where: c.where(), Found: found, Max: max}
}

func (c *cursor) left() int { return c.end - c.p }

func (c *cursor) byte(what string) byte {
	if c.err != nil {
		return 0
	}
	if c.p >= c.end {
		c.fail(ErrMalformed, "%s: unexpected end", what)
		return 0
	}
	v := c.b[c.p]
	c.p++
	return v
}

func (c *cursor) u32(what string) uint32 {
	if c.err != nil {
		return 0
	}
	v, n := readU32(c.b[c.p:c.end])
	if n == 0 {
		c.fail(ErrMalformed, "%s: not an unsigned 32-bit LEB128", what)
		return 0
	}
	c.p += n
	return v
}

func (c *cursor) s32(what string) int32 {
	if c.err != nil {
		return 0
	}
	v, n := readS32(c.b[c.p:c.end])
	if n == 0 {
		c.fail(ErrMalformed, "%s: not a signed 32-bit LEB128", what)
		return 0
	}
	c.p += n
	return v
}

func (c *cursor) s64(what string) int64 {
	if c.err != nil {
		return 0
	}
	v, n := readS64(c.b[c.p:c.end])
	if n == 0 {
		c.fail(ErrMalformed, "%s: not a signed 64-bit LEB128", what)
		return 0
	}
	c.p += n
	return v
}

// bytes returns the next n bytes, a slice of the module.
func (c *cursor) bytes(n uint32, what string) []byte {
	if c.err != nil {
		return nil
	}
	if uint64(n) > uint64(c.left()) {
		c.fail(ErrMalformed, "%s: %d bytes, only %d left", what, n, c.left())
		return nil
	}
	v := c.b[c.p : c.p+int(n) : c.p+int(n)]
	c.p += int(n)
	return v
}

// name reads a name: its length, then that many bytes of UTF-8.
func (c *cursor) name(what string) string {
	n := c.u32(what)
	b := c.bytes(n, what)
	if c.err != nil {
		return ""
	}
	if !utf8.Valid(b) {
		c.p -= len(b)
		c.fail(ErrMalformed, "%s is not valid UTF-8", what)
		return ""
	}
	return string(b)
}

// count reads a vector's length and checks it, before anything is
// allocated for it, against the bytes left (each entry takes at least
// minSize bytes) and against max (Limits field limit; 0 means none).
// Counts that add to an index space pass the entries already in it as
// prior, so that the limit applies to the whole space.
func (c *cursor) count(what string, minSize int, limit string, max uint32, prior uint32) uint32 {
	n := c.u32(what)
	if c.err != nil {
		return 0
	}
	if max != 0 && uint64(n)+uint64(prior) > uint64(max) {
		c.failLimit(limit, uint64(n)+uint64(prior), uint64(max))
		return 0
	}
	if uint64(n)*uint64(minSize) > uint64(c.left()) {
		c.fail(ErrMalformed, "%s: %d entries of at least %d bytes, only %d bytes left", what, n, minSize, c.left())
		return 0
	}
	return n
}
