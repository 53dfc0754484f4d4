// Package abi declares the imports of docs/ABI.md §4.1 that every factory
// may use (input, output, error, log), for the SDK's own packages.
//
// Inside a wasmreg host (GOOS=wasip1) they call the host. Elsewhere Input,
// Output and SetError panic, and Log writes to standard error, so that
// factory logic can be tested natively.
//
// Like the guest instance, the package is single-threaded: it is not safe
// for concurrent use.
package abi

// Log levels of the log import, as Go's log/slog numbers them.
const (
	LevelDebug int32 = -4
	LevelInfo  int32 = 0
	LevelWarn  int32 = 4
	LevelError int32 = 8
)

// LevelName names level as log/slog does: DEBUG, INFO, WARN, ERROR, or
// INFO+2 for a level in between.
func LevelName(level int32) string {
	name := func(base string, val int32) string {
		if level == val {
			return base
		}
		d := level - val
		if d > 0 {
			return base + "+" + itoa(d)
		}
		return base + itoa(d)
	}
	switch {
	case level < LevelInfo:
		return name("DEBUG", LevelDebug)
	case level < LevelWarn:
		return name("INFO", LevelInfo)
	case level < LevelError:
		return name("WARN", LevelWarn)
	default:
		return name("ERROR", LevelError)
	}
}

// itoa avoids strconv for one small integer.
func itoa(n int32) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	u := int64(n)
	if neg {
		u = -u
	}
	var b [12]byte
	i := len(b)
	for u > 0 {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
