package registry

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/Masterminds/semver/v3"
)

// MaxBaseNameLen is the longest base name, in bytes, that a name may have.
// The version after "@" does not count towards it.
const MaxBaseNameLen = 128

// ParseName validates name and returns its base name and version in lower
// case; version is "" when name has no "@". For example
// ParseName("MLP@1.2.0-RC.1") returns "mlp", "1.2.0-rc.1".
//
// The base name must be 1 to [MaxBaseNameLen] ASCII letters, digits, '.',
// '_' or '-'. The version, if present, must be a strict semantic version:
// MAJOR.MINOR.PATCH with an optional pre-release, no "v" prefix and no build
// metadata (semantic versioning ignores build metadata when ordering, so
// "1.2.0+a" and "1.2.0+b" could not be told apart by a bare lookup).
//
// An invalid name returns a [*NameError], which wraps [ErrInvalidName]
// and says why. ParseName is safe for concurrent use by multiple goroutines.
func ParseName(name string) (base, version string, err error) {
	n, err := parseName(name)
	if err != nil {
		var ne *NameError
		if !errors.As(err, &ne) {
			return "", "", fmt.Errorf("registry: parse name %q: %w", name, err)
		}
		return "", "", &NameError{Name: name, Reason: ne.Reason, Cause: ne.Cause}
	}
	return n.base, n.version, nil
}

// parsedName is a validated, lower-case name.
type parsedName struct {
	full    string          // base, or base@version
	base    string          // before "@"
	version string          // after "@"; "" when unversioned
	semver  *semver.Version // nil when unversioned
}

// parseName validates name. Its error wraps ErrInvalidName with the reason
// but not the name, so that callers can say which operation failed without
// repeating the name.
func parseName(name string) (parsedName, error) {
	if name == "" {
		return parsedName{}, invalidName("empty name")
	}
	base, version, versioned := strings.Cut(name, "@")
	if err := checkBase(base); err != nil {
		return parsedName{}, err
	}
	// Lower-case only after checkBase has rejected everything but ASCII:
	// strings.ToLower would map the Kelvin sign U+212A to 'k'.
	n := parsedName{full: lowerASCII(name)}
	n.base, n.version, _ = strings.Cut(n.full, "@")
	if !versioned {
		return n, nil
	}
	if version == "" {
		return parsedName{}, invalidName(`empty version after "@"`)
	}
	if strings.Contains(version, "@") {
		return parsedName{}, invalidName(`more than one "@"`)
	}
	if version[0] == 'v' || version[0] == 'V' {
		return parsedName{}, invalidName("version %q starts with %q; write %q", version, version[:1], strictVersion(version[1:]))
	}
	v, err := semver.StrictNewVersion(n.version)
	if err != nil {
		why := fmt.Sprintf("version %q is not a strict semantic version MAJOR.MINOR.PATCH[-PRERELEASE]", version)
		if fixed := strictVersion(version); fixed != version {
			return parsedName{}, &NameError{Reason: fmt.Sprintf("%s (%v); write %q", why, err, fixed), Cause: err}
		}
		return parsedName{}, &NameError{Reason: fmt.Sprintf("%s: %v", why, err), Cause: err}
	}
	if v.Metadata() != "" {
		return parsedName{}, invalidName("version %q has build metadata, which does not order versions", version)
	}
	n.semver = v
	return n, nil
}

// checkBase validates a base name before it is lower-cased.
func checkBase(base string) error {
	if base == "" {
		return invalidName("empty base name")
	}
	if len(base) > MaxBaseNameLen {
		return invalidName("base name is %d bytes, more than %d", len(base), MaxBaseNameLen)
	}
	for i := 0; i < len(base); i++ {
		if c := base[i]; !isNameByte(c) {
			r, _ := utf8.DecodeRuneInString(base[i:])
			return invalidName("base name has %q at byte %d; allowed are ASCII letters, digits, '.', '_' and '-'", r, i)
		}
	}
	return nil
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}

func invalidName(format string, args ...any) error {
	return &NameError{Reason: fmt.Sprintf(format, args...)}
}

// NameError is the error of a name that breaks the rules of [ParseName]:
// it wraps [ErrInvalidName] and says why in words of its own, so that a
// caller that knows where the name came from (a metadata field, a flag)
// can word the problem in those terms. It is immutable once returned and
// safe for concurrent use.
type NameError struct {
	// Name is the name as given; "" where the caller names it itself.
	Name string
	// Reason says what is wrong, such as `version "1.2" is not a strict
	// semantic version MAJOR.MINOR.PATCH[-PRERELEASE]`.
	Reason string
	// Cause is the underlying error, or nil; Reason includes its text.
	Cause error
}

// Error implements error: `registry: invalid name "NAME": REASON`.
func (e *NameError) Error() string {
	msg := "registry: invalid name"
	if e.Name != "" {
		msg += fmt.Sprintf(" %q", e.Name)
	}
	return msg + ": " + e.Reason
}

// Unwrap returns [ErrInvalidName] and the cause.
func (e *NameError) Unwrap() []error {
	if e.Cause == nil {
		return []error{ErrInvalidName}
	}
	return []error{ErrInvalidName, e.Cause}
}

// lowerASCII maps 'A'-'Z' to 'a'-'z' and leaves every other byte alone. It
// returns s itself, without allocating, when s has no upper-case ASCII,
// which keeps the lookup path allocation-free; unlike strings.ToLower it
// never maps a non-ASCII rune onto an ASCII letter, so an invalid name can
// not alias a valid one.
func lowerASCII(s string) string {
	i := 0
	for i < len(s) && !('A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if 'A' <= b[i] && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

// compareNames orders names of one base: the unversioned name first, then
// versions by semantic version precedence. Precedence is total here because
// parseName rejects build metadata, but the full name breaks any tie anyway
// so that the order never depends on insertion.
func compareNames(a, b *parsedName) int {
	switch {
	case a.semver == nil && b.semver == nil:
		return 0
	case a.semver == nil:
		return -1
	case b.semver == nil:
		return 1
	}
	if c := a.semver.Compare(b.semver); c != 0 {
		return c
	}
	return strings.Compare(a.full, b.full)
}

// strictVersion returns the strict semantic version that v, a version
// short of its MINOR or PATCH ("2", "1.0"), stands for ("2.0.0", "1.0.0"),
// so that a hint never suggests a version that is refused in turn; any
// other v is returned as it is.
func strictVersion(v string) string {
	core, pre, hasPre := strings.Cut(v, "-")
	parts := strings.Split(core, ".")
	if len(parts) >= 3 {
		return v
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return v
		}
	}
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	fixed := strings.Join(parts, ".")
	if hasPre {
		fixed += "-" + pre
	}
	if _, err := semver.StrictNewVersion(fixed); err != nil {
		return v
	}
	return fixed
}
