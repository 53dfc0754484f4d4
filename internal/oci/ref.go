// Package oci moves wasmreg factory modules to and from OCI registries, as
// artifacts of the CNCF TAG Runtime's Wasm layout (docs/DISTRIBUTION.md),
// and keeps what it fetched in a content-addressed store. It knows nothing
// of Wasm beyond media types: the caller validates a module before Push and
// loads what Pull returns. Registry traffic is oras-go's.
package oci

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry"
)

// Scheme prefixes every reference this package takes.
const Scheme = "oci://"

// ErrReference is the error of a reference that is not oci://HOST/REPO:TAG
// or oci://HOST/REPO@sha256:DIGEST.
var ErrReference = errors.New("oci: bad reference")

// Reference is a parsed oci:// reference. It is a value, safe for
// concurrent use.
type Reference struct {
	Registry   string // host[:port]
	Repository string
	Tag        string // "" if by digest only
	Digest     string // "sha256:…", or "" for a tag
}

// IsReference reports whether s is meant as an OCI reference (it has the
// oci:// scheme); ParseReference says whether it is a valid one. It is safe
// for concurrent use.
func IsReference(s string) bool { return strings.HasPrefix(strings.ToLower(s), Scheme) }

// ParseReference parses oci://HOST[:PORT]/REPO:TAG, oci://…@sha256:DIGEST
// or oci://…:TAG@sha256:DIGEST (the digest wins). Errors wrap ErrReference
// and name the reference. It is safe for concurrent use.
func ParseReference(s string) (Reference, error) {
	if len(s) > 1024 {
		return Reference{}, fmt.Errorf("%w: %d bytes, over 1024", ErrReference, len(s))
	}
	if !IsReference(s) {
		return Reference{}, fmt.Errorf("%w %q: want %sHOST/REPO:TAG or %sHOST/REPO@sha256:DIGEST", ErrReference, s, Scheme, Scheme)
	}
	raw := s[len(Scheme):]
	if host, rest, _ := strings.Cut(raw, "/"); strings.Contains(host, "@") {
		// user:password@host: refused without echoing what precedes the @.
		shown := Scheme + "…@" + host[strings.LastIndex(host, "@")+1:] + "/" + rest
		return Reference{}, fmt.Errorf("%w %q: credentials do not go in a reference (they would show in logs); log in with 'docker login' or 'oras login'",
			ErrReference, shown)
	}
	var tag string
	if at := strings.LastIndex(raw, "@"); at >= 0 {
		// oras-go parses REPO:TAG@DIGEST; keep the tag to show it.
		if colon := strings.LastIndex(raw[:at], ":"); colon > strings.LastIndex(raw[:at], "/") {
			tag = raw[colon+1 : at]
			raw = raw[:colon] + raw[at:]
		}
	}
	r, err := registry.ParseReference(raw)
	if err != nil {
		return Reference{}, fmt.Errorf("%w %q: %w", ErrReference, s, err)
	}
	if r.Reference == "" {
		return Reference{}, fmt.Errorf("%w %q: no tag or digest (add :TAG or @sha256:DIGEST)", ErrReference, s)
	}
	ref := Reference{Registry: r.Registry, Repository: r.Repository}
	if d, err := r.Digest(); err == nil {
		if d.Algorithm() != digest.SHA256 {
			return Reference{}, fmt.Errorf("%w %q: digest algorithm %s, want sha256", ErrReference, s, d.Algorithm())
		}
		ref.Digest, ref.Tag = d.String(), tag
		if tag != "" {
			if err := (registry.Reference{Registry: r.Registry, Repository: r.Repository, Reference: tag}).ValidateReferenceAsTag(); err != nil {
				return Reference{}, fmt.Errorf("%w %q: %w", ErrReference, s, err)
			}
		}
	} else {
		ref.Tag = r.Reference
	}
	return ref, nil
}

// String returns the reference as ParseReference takes it.
func (r Reference) String() string {
	s := Scheme + r.Registry + "/" + r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// WithDigest returns r pinned to the manifest digest d (a "sha256:…").
func (r Reference) WithDigest(d string) Reference { r.Digest = d; return r }

// isLoopback reports whether a registry host[:port] is on this machine,
// where plain HTTP cannot be intercepted by a network.
func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
