package log

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type celsius float64

func (c celsius) String() string { return text(float64(c)) + "°C" }

func TestFormat(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	tests := []struct {
		name string
		msg  string
		args []any
		want string
	}{
		{"message only", "built", nil, "built"},
		{"pairs", "built", []any{"rows", 3, "link", "softmax"}, "built rows=3 link=softmax"},
		{"quoted values", "m", []any{"s", "two words", "eq", "a=b", "q", `say "hi"`, "empty", ""}, `m s="two words" eq="a=b" q="say \"hi\"" empty=""`},
		{"control characters", "m", []any{"nl", "a\nb"}, `m nl="a\nb"`},
		{"invalid utf-8", "m", []any{"b", "\xff"}, `m b="\xff"`},
		{"unicode is kept", "m", []any{"name", "héllo"}, "m name=héllo"},
		{"quoted key", "m", []any{"a key", 1}, `m "a key"=1`},
		{"error", "m", []any{"err", errors.New("no such file")}, `m err="no such file"`},
		{"nil", "m", []any{"v", nil}, "m v=<nil>"},
		{"stringer", "m", []any{"t", celsius(21.5)}, "m t=21.5°C"},
		{"duration", "m", []any{"took", 1500 * time.Millisecond}, "m took=1.5s"},
		{"time", "m", []any{"at", at}, "m at=2024-05-06T07:08:09.123Z"},
		{"floats", "m", []any{"f", 0.1, "g", 1e21, "h", float32(2.5)}, "m f=0.1 g=1e+21 h=2.5"},
		{"bool and slice", "m", []any{"ok", true, "shape", []int{3, 4}}, `m ok=true shape="[3 4]"`},
		{"struct", "m", []any{"p", struct{ X, Y int }{1, 2}}, `m p="{X:1 Y:2}"`},
		{"bytes", "m", []any{"b", []byte("raw")}, "m b=raw"},
		{"value without key", "m", []any{42}, "m !BADKEY=42"},
		{"trailing key", "m", []any{"a", 1, "dangling"}, "m a=1 !BADKEY=dangling"},
		{"empty message", "", []any{"a", 1}, "a=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Format(tc.msg, tc.args...); got != tc.want {
				t.Errorf("Format(%q, %v)\n got %s\nwant %s", tc.msg, tc.args, got, tc.want)
			}
		})
	}
}

// TestFormatMatchesSlog checks Format against log/slog's text handler on
// the attributes both write the same way.
func TestFormatMatchesSlog(t *testing.T) {
	argSets := [][]any{
		{"rows", 3, "link", "softmax"},
		{"s", "two words", "eq", "a=b", "q", `say "hi"`, "empty", ""},
		{"nl", "a\nb", "tab", "a\tb", "b", "\xff", "u", "héllo"},
		{"err", errors.New("no such file"), "took", 1500 * time.Millisecond},
		{"at", time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)},
		{"f", 0.1, "g", 1e21, "ok", true, "shape", []int{3, 4}, "p", struct{ X, Y int }{1, 2}},
		{42, "a", 1, "dangling"},
	}
	for _, args := range argSets {
		var buf bytes.Buffer
		h := slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
				return slog.Attr{}
			}
			return a
		}})
		slog.New(h).Info("m", args...)
		want := "m " + strings.TrimSuffix(strings.TrimPrefix(buf.String(), "msg=m "), "\n")
		if got := Format("m", args...); got != want {
			t.Errorf("Format(%v)\n got %s\nslog %s", args, got, want)
		}
	}
}
