package loadcache_test

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host/internal/loadcache"
)

var key = [loadcache.KeySize]byte{1, 2, 3}

// reseal replaces the checksum of a modified entry, so that the test
// reaches the check after it.
func reseal(b []byte) []byte {
	body := b[:len(b)-4]
	return binary.LittleEndian.AppendUint32(body, crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields [][]byte
	}{
		{"none", nil},
		{"empty fields", [][]byte{{}, {}}},
		{"some", [][]byte{[]byte(`{"a":1}`), make([]byte, 1<<16), []byte("x")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entry := loadcache.Encode(key, tc.fields...)
			got, err := loadcache.Decode(entry, key, len(tc.fields))
			require.NoError(t, err)
			require.Len(t, got, len(tc.fields))
			for i := range got {
				assert.Equal(t, len(tc.fields[i]), len(got[i]))
				assert.Equal(t, string(tc.fields[i]), string(got[i]), "field %d", i)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	fields := [][]byte{[]byte("meta"), []byte("module bytes")}
	good := loadcache.Encode(key, fields...)
	const versionAt = len("wasmreg-loadcache\n")
	otherVersion := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(otherVersion[versionAt:], loadcache.Version+1)
	badMagic := append([]byte(nil), good...)
	badMagic[0] ^= 1
	long := append([]byte(nil), good...)
	binary.LittleEndian.PutUint64(long[versionAt+4+loadcache.KeySize+4:], 1<<62) // first field's length
	for _, tc := range []struct {
		name  string
		entry []byte
		key   [loadcache.KeySize]byte
		n     int
		want  string
	}{
		{"empty", nil, key, 2, "shorter than a header"},
		{"another key", good, [loadcache.KeySize]byte{9}, 2, "another key"},
		{"another version", reseal(otherVersion), key, 2, "format version"},
		{"not an entry", reseal(badMagic), key, 2, "not a load cache entry"},
		{"field count", good, key, 3, "2 fields, want 3"},
		{"trailing bytes", reseal(append(append([]byte(nil), good...), 0, 0, 0, 0)), key, 2, "after the last field"},
		{"field past the end", reseal(long), key, 2, "left"},
		{"checksum", append(append([]byte(nil), good[:len(good)-1]...), good[len(good)-1]^0x80), key, 2, "checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadcache.Decode(tc.entry, tc.key, tc.n)
			require.ErrorIs(t, err, loadcache.ErrCorrupt)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("every truncation", func(t *testing.T) {
		for n := range len(good) {
			_, err := loadcache.Decode(good[:n], key, 2)
			require.ErrorIs(t, err, loadcache.ErrCorrupt, "truncated to %d bytes", n)
		}
	})
	t.Run("every bit flipped", func(t *testing.T) {
		for i := range len(good) * 8 {
			b := append([]byte(nil), good...)
			b[i/8] ^= 1 << (i % 8)
			_, err := loadcache.Decode(b, key, 2)
			require.ErrorIs(t, err, loadcache.ErrCorrupt, "bit %d flipped", i)
		}
	})
}

func accept(string, fs.FileInfo) error { return nil }

func TestReadWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "load")
	entry := loadcache.Encode(key, []byte("x"))
	require.NoError(t, loadcache.Write(dir, "abc", entry))
	got, err := loadcache.Read(filepath.Join(dir, "abc"), 1<<20, accept)
	require.NoError(t, err)
	assert.Equal(t, entry, got)

	names, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, names, 1, "no temporary file left")
	info, err := os.Stat(filepath.Join(dir, "abc"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), info.Mode().Perm())
	dinfo, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o700), dinfo.Mode().Perm())

	// Overwriting replaces the whole entry.
	entry2 := loadcache.Encode(key, []byte("yy"))
	require.NoError(t, loadcache.Write(dir, "abc", entry2))
	got, err = loadcache.Read(filepath.Join(dir, "abc"), 1<<20, accept)
	require.NoError(t, err)
	assert.Equal(t, entry2, got)

	t.Run("missing", func(t *testing.T) {
		_, err := loadcache.Read(filepath.Join(dir, "nope"), 1<<20, accept)
		assert.ErrorIs(t, err, fs.ErrNotExist)
	})
	t.Run("too large", func(t *testing.T) {
		_, err := loadcache.Read(filepath.Join(dir, "abc"), int64(len(entry2)-1), accept)
		assert.ErrorIs(t, err, loadcache.ErrCorrupt)
	})
	t.Run("refused by the check", func(t *testing.T) {
		refused := errors.New("not yours")
		_, err := loadcache.Read(filepath.Join(dir, "abc"), 1<<20, func(string, fs.FileInfo) error { return refused })
		assert.ErrorIs(t, err, refused)
	})
	t.Run("not a regular file", func(t *testing.T) {
		require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
		_, err := loadcache.Read(filepath.Join(dir, "sub"), 1<<20, accept)
		assert.ErrorIs(t, err, loadcache.ErrCorrupt)
	})
	t.Run("symbolic link", func(t *testing.T) {
		require.NoError(t, os.Symlink(filepath.Join(dir, "abc"), filepath.Join(dir, "link")))
		_, err := loadcache.Read(filepath.Join(dir, "link"), 1<<20, accept)
		assert.Error(t, err)
	})
	t.Run("bad names", func(t *testing.T) {
		for _, name := range []string{"", "a/b", "../x", ".hidden"} {
			assert.Error(t, loadcache.Write(dir, name, entry), name)
		}
	})
}

// FuzzDecode: whatever the bytes, Decode returns fields or ErrCorrupt,
// never panics, and the fields it returns lie within the entry; an entry
// Encode made decodes to its fields.
func FuzzDecode(f *testing.F) {
	f.Add(loadcache.Encode(key, []byte("meta"), []byte("module")), 2)
	f.Add(loadcache.Encode(key), 0)
	f.Add([]byte("wasmreg-loadcache\n"), 1)
	f.Fuzz(func(t *testing.T, entry []byte, n int) {
		n = n & 7
		fields, err := loadcache.Decode(entry, key, n)
		if err != nil {
			require.ErrorIs(t, err, loadcache.ErrCorrupt)
			return
		}
		require.Len(t, fields, n)
		total := 0
		for _, fl := range fields {
			total += len(fl)
		}
		require.LessOrEqual(t, total, len(entry))
		again := loadcache.Encode(key, fields...)
		require.Equal(t, entry, again, "a valid entry is the encoding of its fields")
	})
}
