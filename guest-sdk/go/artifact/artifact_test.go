package artifact

import (
	"bytes"
	"errors"
	"testing"
)

// fakeRead serves data as artifact_read does, at most max bytes a call.
func fakeRead(data []byte, max int) func(off int64, p []byte) int64 {
	return func(off int64, p []byte) int64 {
		if off >= int64(len(data)) {
			return 0
		}
		return int64(copy(p[:min(len(p), max)], data[off:]))
	}
}

func TestReadAll(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), chunk/5+3) // over two chunks
	tests := []struct {
		name    string
		size    int64
		read    func(off int64, p []byte) int64
		want    []byte
		wantErr string
	}{
		{"empty", 0, fakeRead(nil, chunk), []byte{}, ""},
		{"small", 5, fakeRead([]byte("hello"), chunk), []byte("hello"), ""},
		{"several chunks", int64(len(big)), fakeRead(big, chunk), big, ""},
		{"short reads", 5, fakeRead([]byte("hello"), 2), []byte("hello"), ""},
		{"shrunk", 8, fakeRead([]byte("hello"), chunk), nil, `artifact "w": ended after 5 of its 8 bytes`},
		{"vanished", 5, func(int64, []byte) int64 { return -1 }, nil, `artifact "w": artifact: not found`},
		{"bad code", 5, func(int64, []byte) int64 { return -7 }, nil, `artifact "w": artifact_read returned -7`},
		{"too large", 1<<32 + 1, nil, nil, `artifact "w" is 4294967297 bytes, more than a wasm32 memory holds`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll("w", tc.size, tc.read)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("readAll error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("readAll: %v", err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("readAll = %d bytes, want %d", len(got), len(tc.want))
			}
		})
	}
}

func TestReadErrorWrapsNotFound(t *testing.T) {
	if err := readError("w", -1); !errors.Is(err, ErrNotFound) {
		t.Errorf("readError(-1) = %v, does not wrap ErrNotFound", err)
	}
}
