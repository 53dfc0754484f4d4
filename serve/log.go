package serve

import (
	"log/slog"
	"net/http"
	"time"
)

func slogStr(k, v string) slog.Attr               { return slog.String(k, v) }
func slogInt(k string, v int) slog.Attr           { return slog.Int(k, v) }
func slogDur(k string, v time.Duration) slog.Attr { return slog.Duration(k, v) }

// levelOf is the level of a request's access log line: an error for what
// an operator must look at (a guest that failed, a response the server
// could not make), a warning for refusals (a bad token, a full queue, a
// deadline), and info for the rest — including 503, which a server
// answers by design while it starts and drains, so that readiness probes
// do not fill the logs with errors.
func levelOf(status int) slog.Level {
	switch {
	case status == http.StatusServiceUnavailable:
		return slog.LevelInfo
	case status >= 500 && status != http.StatusGatewayTimeout:
		return slog.LevelError
	case status == http.StatusUnauthorized, status == http.StatusTooManyRequests, status == http.StatusGatewayTimeout:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
