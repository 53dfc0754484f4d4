// Package log writes log lines through the wasmreg host's log import
// (docs/ABI.md §4.1), which every host grants.
//
// The level functions format their arguments as log/slog's text handler
// does: alternating keys and values appended to the message as key=value,
// values quoted when they hold spaces, quotes, '=' or control characters:
//
//	log.Info("model built", "rows", 3, "link", "softmax")
//	// model built rows=3 link=softmax
//
// The host adds its own attributes (the factory, the export), truncates
// lines over its limit (4 KiB by default) and drops lines over its per-call
// quota (1000 by default).
//
// Outside a wasmreg host (GOOS other than wasip1) lines go to standard
// error, so that factory logic can be tested natively. Like the guest
// instance, the package is single-threaded: it is not safe for concurrent
// use by multiple goroutines.
package log

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wasmreg/wasmreg/guest-sdk/go/internal/abi"
)

// Levels, numbered as log/slog numbers them. Levels in between are allowed.
const (
	LevelDebug int32 = abi.LevelDebug
	LevelInfo  int32 = abi.LevelInfo
	LevelWarn  int32 = abi.LevelWarn
	LevelError int32 = abi.LevelError
)

// Log writes msg as one line at level, unformatted.
func Log(level int32, msg string) { abi.Log(level, msg) }

// Debug writes a line at [LevelDebug]; see [Format] for args.
func Debug(msg string, args ...any) { abi.Log(LevelDebug, Format(msg, args...)) }

// Info writes a line at [LevelInfo]; see [Format] for args.
func Info(msg string, args ...any) { abi.Log(LevelInfo, Format(msg, args...)) }

// Warn writes a line at [LevelWarn]; see [Format] for args.
func Warn(msg string, args ...any) { abi.Log(LevelWarn, Format(msg, args...)) }

// Error writes a line at [LevelError]; see [Format] for args.
func Error(msg string, args ...any) { abi.Log(LevelError, Format(msg, args...)) }

// badKey is log/slog's key for an argument that is not a key.
const badKey = "!BADKEY"

// Format returns the line that the level functions write: msg followed by
// args as space-separated key=value pairs. args alternate a string key and
// a value, as with log/slog; a value without a string key before it is
// written as !BADKEY=value. Values are written as log/slog's text handler
// writes them: strings, errors and fmt.Stringers as their text, times in
// RFC 3339 with milliseconds, others as fmt's %+v, quoted with Go syntax
// when needed.
func Format(msg string, args ...any) string {
	var sb strings.Builder
	sb.WriteString(msg)
	for len(args) > 0 {
		key, value := badKey, args[0]
		if k, ok := args[0].(string); ok {
			if len(args) == 1 {
				args = args[1:]
			} else {
				key, value, args = k, args[1], args[2:]
			}
		} else {
			args = args[1:]
		}
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(quote(key))
		sb.WriteByte('=')
		sb.WriteString(quote(text(value)))
	}
	return sb.String()
}

// text is the unquoted text of a value.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return "<nil>"
	case string:
		return v
	case []byte:
		return string(v)
	case error:
		return v.Error()
	case time.Time:
		return v.Format("2006-01-02T15:04:05.000Z07:00")
	case fmt.Stringer:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	default:
		return fmt.Sprintf("%+v", v)
	}
}

// quote quotes s with Go syntax if it is empty or holds a space, '=', '"',
// an unprintable rune or invalid UTF-8, as log/slog's text handler does.
func quote(s string) string {
	if s == "" {
		return `""`
	}
	for i, r := range s {
		if r == ' ' || r == '=' || r == '"' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return strconv.Quote(s)
			}
		}
	}
	return s
}
