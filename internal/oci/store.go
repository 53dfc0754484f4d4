package oci

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// ErrDigestMismatch is the error of content whose digest is not the one
// that was asked for; the message names both.
var ErrDigestMismatch = errors.New("oci: digest mismatch")

// ErrTooLarge is the error of a blob over its size limit.
var ErrTooLarge = errors.New("oci: too large")

// Store is a content-addressed store of blobs (manifests, configs,
// layers) under a directory, owner-only: DIR/blobs/sha256/HEX. A blob is
// verified against its digest before it is written and again when it is
// read, so a blob changed on disk is refused too. Writes go through a
// temporary file and a rename, so a reader never sees a partial blob. A
// Store is safe for concurrent use by multiple goroutines and processes.
type Store struct{ dir string }

// NewStore returns the store under dir, creating it owner-only. It is safe
// for concurrent use.
func NewStore(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("oci: store directory is empty")
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o700); err != nil {
		return nil, fmt.Errorf("oci: store: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("oci: store: %w", err)
	}
	return &Store{dir: dir}, nil
}

func (s *Store) path(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("%w: %q is not a sha256 digest", ErrReference, d)
	}
	return filepath.Join(s.dir, "blobs", "sha256", d.Encoded()), nil
}

// Get returns the blob with digest d, at most limit bytes, verified;
// fs.ErrNotExist if the store does not have it.
func (s *Store) Get(d digest.Digest, limit int64) ([]byte, error) {
	p, err := s.path(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := readVerified(f, d, limit)
	if err != nil {
		return nil, fmt.Errorf("oci: store blob %s: %w", p, err)
	}
	return b, nil
}

// Put writes b as the blob with digest d, if b has that digest.
func (s *Store) Put(d digest.Digest, b []byte) error {
	p, err := s.path(d)
	if err != nil {
		return err
	}
	if got := digest.FromBytes(b); got != d {
		return fmt.Errorf("%w: content has %s, want %s", ErrDigestMismatch, got, d)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("oci: store: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a rename, nothing to remove
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("oci: store: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("oci: store: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("oci: store: %w", err)
	}
	return nil
}

// readVerified reads r whole, at most limit bytes, and checks that it has
// digest want; the error names both digests.
func readVerified(r io.Reader, want digest.Digest, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
	}
	sum := sha256.Sum256(b)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != want.String() {
		return nil, fmt.Errorf("%w: got content with %s, want %s", ErrDigestMismatch, got, want)
	}
	return b, nil
}
