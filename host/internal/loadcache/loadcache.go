package loadcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Version is the envelope's format, written in every entry: an entry of
// another version is refused. Raise it when the envelope, or what the host
// puts in its fields, changes meaning.
const Version = 1

// magic begins every entry.
const magic = "wasmreg-loadcache\n"

// KeySize is the size of the key an entry is written under.
const KeySize = 32

// maxFields bounds the fields of one entry.
const maxFields = 64

const headerSize = len(magic) + 4 + KeySize + 4 // magic, version, key, field count

// ErrCorrupt is the error, wrapped with what was wrong, of an entry that
// is not a whole, intact entry of this version under the expected key.
var ErrCorrupt = errors.New("loadcache: corrupt entry")

// castagnoli is made on first use: making it at init would cost every
// process a fifth of a millisecond, cache or not.
var castagnoli = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

// Encode returns the entry of fields under key. It panics if there are
// more than 64 fields, a programmer's error.
func Encode(key [KeySize]byte, fields ...[]byte) []byte {
	if len(fields) > maxFields {
		panic(fmt.Sprintf("loadcache: %d fields, at most %d", len(fields), maxFields))
	}
	n := headerSize + 4
	for _, f := range fields {
		n += 8 + len(f)
	}
	b := make([]byte, 0, n)
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint32(b, Version)
	b = append(b, key[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(fields)))
	for _, f := range fields {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(f)))
		b = append(b, f...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli()))
}

// Decode returns the n fields of entry, which must be a whole entry of
// this version written under key, or an error wrapping [ErrCorrupt]. The
// fields are slices of entry.
func Decode(entry []byte, key [KeySize]byte, n int) ([][]byte, error) {
	if len(entry) < headerSize+4 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a header", ErrCorrupt, len(entry))
	}
	body, sum := entry[:len(entry)-4], binary.LittleEndian.Uint32(entry[len(entry)-4:])
	if got := crc32.Checksum(body, castagnoli()); got != sum {
		return nil, fmt.Errorf("%w: checksum %08x, the entry says %08x", ErrCorrupt, got, sum)
	}
	if string(body[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: not a load cache entry", ErrCorrupt)
	}
	b := body[len(magic):]
	if v := binary.LittleEndian.Uint32(b); v != Version {
		return nil, fmt.Errorf("%w: format version %d, this host reads version %d", ErrCorrupt, v, Version)
	}
	b = b[4:]
	if [KeySize]byte(b[:KeySize]) != key {
		return nil, fmt.Errorf("%w: written under another key", ErrCorrupt)
	}
	b = b[KeySize:]
	if count := binary.LittleEndian.Uint32(b); count != uint32(n) || n > maxFields {
		return nil, fmt.Errorf("%w: %d fields, want %d", ErrCorrupt, count, n)
	}
	b = b[4:]
	fields := make([][]byte, n)
	for i := range fields {
		if len(b) < 8 {
			return nil, fmt.Errorf("%w: field %d: truncated length", ErrCorrupt, i)
		}
		size := binary.LittleEndian.Uint64(b)
		b = b[8:]
		if size > uint64(len(b)) {
			return nil, fmt.Errorf("%w: field %d: %d bytes, %d left", ErrCorrupt, i, size, len(b))
		}
		fields[i] = b[:size:size]
		b = b[size:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last field", ErrCorrupt, len(b))
	}
	return fields, nil
}

// Read returns the content of the entry file at path, at most maxSize
// bytes, after check has accepted the opened file's information: the
// host checks that it is the current user's and writable by no one else.
// A symbolic link is refused, not followed (where the system can tell).
// A missing entry is an error wrapping [fs.ErrNotExist].
func Read(path string, maxSize int64, check func(path string, info fs.FileInfo) error) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNoFollow, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file (%s)", ErrCorrupt, path, info.Mode())
	}
	if err := check(path, info); err != nil {
		return nil, err
	}
	if info.Size() > maxSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, at most %d expected", ErrCorrupt, path, info.Size(), maxSize)
	}
	// One byte more than the file's size, to see that it did not grow.
	b := make([]byte, info.Size()+1)
	n, err := io.ReadFull(f, b)
	if err == io.EOF { // an empty file
		err = io.ErrUnexpectedEOF
	}
	if err != io.ErrUnexpectedEOF {
		if err == nil {
			err = fmt.Errorf("%w: %s grew while read", ErrCorrupt, path)
		}
		return nil, err
	}
	if int64(n) != info.Size() {
		return nil, fmt.Errorf("%w: %s: read %d bytes of %d", ErrCorrupt, path, n, info.Size())
	}
	return b[:n], nil
}

// Write writes entry to dir/name, making dir (mode 0700) if needed,
// through a temporary file renamed into place: a reader never sees a
// partial entry, and concurrent writers of the same entry leave one whole.
func Write(dir, name string, entry []byte) (err error) {
	if name == "" || filepath.Base(name) != name || name[0] == '.' {
		return fmt.Errorf("loadcache: entry name %q is not a plain file name", name)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+name+".tmp*") // mode 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(entry); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}
