package serve

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLevelOf(t *testing.T) {
	for status, want := range map[int]slog.Level{
		http.StatusOK:                  slog.LevelInfo,
		http.StatusBadRequest:          slog.LevelInfo,
		http.StatusNotFound:            slog.LevelInfo,
		http.StatusUnauthorized:        slog.LevelWarn,
		http.StatusTooManyRequests:     slog.LevelWarn,
		http.StatusGatewayTimeout:      slog.LevelWarn,
		http.StatusServiceUnavailable:  slog.LevelInfo, // starting or draining: probes ask often
		http.StatusInternalServerError: slog.LevelError,
	} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			assert.Equal(t, want, levelOf(status))
		})
	}
}
