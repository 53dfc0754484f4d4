package serve

import (
	"log/slog"
	"time"
)

func slogStr(k, v string) slog.Attr               { return slog.String(k, v) }
func slogInt(k string, v int) slog.Attr           { return slog.Int(k, v) }
func slogDur(k string, v time.Duration) slog.Attr { return slog.Duration(k, v) }

func levelOf(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	if status == 401 {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
