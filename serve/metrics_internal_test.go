package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/wasmreg/wasmreg/host"
)

// TestOutcomeAndKind classifies the errors a request can end with: the
// outcome agrees with the status REST answers, and the guest kind comes
// from the host's typed errors, however deeply wrapped.
func TestOutcomeAndKind(t *testing.T) {
	call := func(kind error, limit *host.LimitError) error {
		return fmt.Errorf("model %q: row 0: %w", "m", &host.CallError{Factory: "f@1.0.0", Export: "wasmreg_predict", Kind: kind, Limit: limit, Message: "x"})
	}
	tests := []struct {
		name    string
		err     error
		outcome string
		status  int
		kind    string
	}{
		{"ok", nil, "ok", http.StatusOK, ""},
		{"bad request", fmt.Errorf("%w: model %q: malformed JSON", ErrBadRequest, "m"), "bad_request", 400, ""},
		{"guest error", call(host.ErrGuest, nil), "bad_request", 400, "guest_error"},
		{"input limit", call(host.ErrInputLimit, &host.LimitError{Kind: host.ErrInputLimit, Option: "WithInputLimit"}), "bad_request", 400, "limit"},
		{"not found", fmt.Errorf("%w: model %q", ErrModelNotFound, "m"), "not_found", 404, ""},
		{"too large", fmt.Errorf("model %q: %w", "m", &http.MaxBytesError{Limit: 1}), "too_large", 413, ""},
		{"queue full", fmt.Errorf("%w: model %q", ErrQueueFull, "m"), "queue_full", 429, ""},
		{"not ready", fmt.Errorf("%w: model %q", ErrNotReady, "m"), "not_ready", 503, ""},
		{"model closed", call(host.ErrModelClosed, nil), "not_ready", 503, ""},
		{"timeout", call(host.ErrTimeout, &host.LimitError{Kind: host.ErrTimeout, Option: "WithCallTimeout"}), "timeout", 504, "timeout"},
		{"waiting for a slot", fmt.Errorf("model %q: waiting for a slot: %w", "m", context.DeadlineExceeded), "timeout", 504, ""},
		{"trap", call(host.ErrTrap, nil), "trap", 500, "trap"},
		{"stack overflow", call(host.ErrStackOverflow, &host.LimitError{Kind: host.ErrStackOverflow, Option: "WithStackLimit"}), "trap", 500, "stack_overflow"},
		{"memory limit", call(host.ErrMemoryLimit, nil), "error", 500, "memory_limit"},
		{"memory budget", &host.LimitError{Kind: host.ErrMemoryLimit, Option: "WithMemoryBudget"}, "error", 500, "memory_limit"},
		{"output limit", call(host.ErrOutputLimit, &host.LimitError{Kind: host.ErrOutputLimit, Option: "WithOutputLimit"}), "error", 500, "limit"},
		{"busy", &host.LimitError{Kind: host.ErrBusy, Option: "WithMaxInstances"}, "error", 500, "limit"},
		{"canceled", call(context.Canceled, nil), "error", 500, ""},
		{"other", errors.New("boom"), "error", 500, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.outcome, outcomeNames[outcomeOf(tc.err)])
			if tc.err != nil {
				assert.Equal(t, tc.status, statusOf(tc.err))
			}
			k := guestKindOf(tc.err)
			if tc.kind == "" {
				assert.Equal(t, kindNone, k)
			} else if assert.NotEqual(t, kindNone, k) {
				assert.Equal(t, tc.kind, kindNames[k])
			}
		})
	}
}
