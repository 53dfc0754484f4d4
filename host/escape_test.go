package host_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/safetext"
)

// escapeCases are the hostile modules whose text would drive a terminal:
// each loads and runs as any module does, and what they chose to say is
// escaped wherever the host shows or logs it (TestGuestTextIsEscaped).
var escapeCases = []hostileCase{
	{"escape_response", atPredict, nil, 0},
	{"escape_export_names", atPredict, nil, 0},
	{"escape_import_names", atLoad, host.ErrUnknownImport, 0},
	{"escape_description", atPredict, nil, 0},
	{"escape_error", atPredict, host.ErrGuest, 3},
	{"escape_log", atPredict, nil, 0},
}

// escapeResponse is what escape_response answers: Predict returns a
// guest's bytes exactly; only what is shown to people is escaped.
const escapeResponse = "\x1b[2J\x1b]0;pwned\x07\x1b[31mred\u009b2J\x9b\u202eevil\u2066x\x7f"

// assertSafe fails unless s, split into lines, holds no character that
// safetext escapes.
func assertSafe(t *testing.T, what, s string) {
	t.Helper()
	for line := range strings.SplitSeq(s, "\n") {
		if i := safetext.Index(line); i >= 0 {
			t.Errorf("%s: raw %q at byte %d of %q", what, line[i:min(i+4, len(line))], i, line)
		}
	}
}

// TestGuestTextIsEscaped runs the escape_* modules on hosts logging as
// text and as JSON, and checks that no raw control, C1 or bidi character
// of the guest's reaches an error's text or a log record, decoded or not.
func TestGuestTextIsEscaped(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var logs logBuffer
			opts := &slog.HandlerOptions{Level: slog.LevelDebug}
			var handler slog.Handler = slog.NewTextHandler(&logs, opts)
			if format == "json" {
				handler = slog.NewJSONHandler(&logs, opts)
			}
			h, err := host.New(context.Background(), host.WithLogger(slog.New(handler)))
			require.NoError(t, err)
			defer h.Close(context.Background())
			ctx := context.Background()
			var texts []string // every error and name the host gave back
			for _, tc := range escapeCases {
				f, err := h.Load(ctx, hostileWasm(t, tc.file))
				if tc.stage == atLoad {
					require.ErrorIs(t, err, tc.want)
					texts = append(texts, err.Error())
					continue
				}
				require.NoError(t, err, tc.file)
				m, err := f.BuildModel(ctx, nil)
				require.NoError(t, err, tc.file)
				out, err := m.Predict(ctx, []byte("x"))
				if tc.want != nil {
					require.ErrorIs(t, err, tc.want, tc.file)
					var ce *host.CallError
					require.ErrorAs(t, err, &ce)
					assert.Equal(t, `bad \x1b[2J\x1b]0;pwned\x07 \u009b31m \u202e \xff\x0d\x0asecond line`, ce.Message)
					texts = append(texts, err.Error())
				} else {
					require.NoError(t, err, tc.file)
				}
				if tc.file == "escape_response" {
					assert.Equal(t, escapeResponse, string(out), "a response is returned exactly")
				}
				require.NoError(t, m.Close(ctx))
			}
			for _, text := range texts {
				assertSafe(t, "error", text)
			}
			assert.Contains(t, strings.Join(texts, "\n"),
				`unknown import: \x1b[2J\u202e.\u009bfield: module "\x1b[2J\u202e" is not provided`)
			assert.Contains(t, strings.Join(texts, "\n"),
				`unknown import: table \x1b[31m.\u2066table: a factory may import only functions`, "every problem, at once")

			got := logs.String()
			assertSafe(t, "log", got)
			assert.Contains(t, got, `log \\x1b[2J\\x1b]0;pwned\\x07\\x1b[31m \\u009b2J \\x9b \\u202e evil \\u2028 end`,
				"the guest's log line, escaped (and quoted by the handler)")
			assert.Contains(t, got, `stdio \\x1b[2J\\x1b]2;pwned\\x1b\\ \\u009b \\u2067 \\x9b\\x0dend`, "its WASI output")
			if format == "json" {
				for line := range strings.SplitSeq(strings.TrimSpace(got), "\n") {
					var rec map[string]any
					require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
					for k, v := range rec {
						if s, ok := v.(string); ok {
							assertSafe(t, "decoded "+k, s)
						}
					}
				}
			}
		})
	}
}

// TestInvalidModuleTextIsEscaped checks the text of the refusals of modules
// whose names carry escapes: an import kind that does not exist, and two
// exports of one name.
func TestInvalidModuleTextIsEscaped(t *testing.T) {
	mod, name := "\x1b[2J\u202e", "\u009b\x1b]0;pwned\x07"
	var imports []byte
	imports = append(imports, 1, byte(len(mod)))
	imports = append(imports, mod...)
	imports = append(imports, byte(len(name)))
	imports = append(imports, name...)
	imports = append(imports, 0x7f) // no such import kind
	badKind := append([]byte("\x00asm\x01\x00\x00\x00\x02"), byte(len(imports)))
	badKind = append(badKind, imports...)

	// Two exports of memory 0 under the same escaped name.
	exports := []byte{2, byte(len(name))}
	exports = append(exports, name...)
	exports = append(exports, 2, 0, byte(len(name)))
	exports = append(exports, name...)
	exports = append(exports, 2, 0)
	dup := []byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x00\x01\x07")
	dup = append(dup, byte(len(exports)))
	dup = append(dup, exports...)

	h, _ := newHost(t)
	for _, wasm := range [][]byte{badKind, dup} {
		_, err := h.Load(context.Background(), wasm)
		require.ErrorIs(t, err, host.ErrInvalidModule)
		assertSafe(t, "error", err.Error())
	}
	_, err := h.Load(context.Background(), dup)
	assert.Contains(t, err.Error(), "pwned", "the refusal names the export")
}

// inChain reports whether err or any error it wraps satisfies match.
func inChain(err error, match func(error) bool) bool {
	if err == nil {
		return false
	}
	if match(err) {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return inChain(u.Unwrap(), match)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if inChain(e, match) {
				return true
			}
		}
	}
	return false
}
