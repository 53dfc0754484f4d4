// Package wazeroerr holds every fragment of wazero's error text that
// wasmreg matches, in one place, with the wazero version they were audited
// against. Its test fails when go.mod requires another version: on every
// upgrade, re-audit these fragments, the strict reader's claim
// (host/internal/wasmbin) that it decodes exactly what this version of
// wazero accepts, and the recycling's reach into wazero's memory instance
// (host/recycle.go: shrinkMemory sets its exported Buffer field and grows
// it one page so that compiled code learns the length), then change
// Audited.
package wazeroerr

import "strings"

// Audited is the wazero version the fragments below (and wasmbin's
// differential tests) were checked against.
const Audited = "v1.12.0"

// RecoveredSuffix is what wazero appends to the message of a Go panic it
// recovered in a host function.
const RecoveredSuffix = " (recovered by wazero)"

// TrimRecovered drops RecoveredSuffix from a trap's message.
func TrimRecovered(msg string) string { return strings.TrimSuffix(msg, RecoveredSuffix) }

// IndexFragments are the fragments of wazero's messages for an index it
// finds out of range, which the strict reader must have found first.
var IndexFragments = []string{
	"out of range", "unknown table", "unknown memory", "unknown type", "not found",
	"invalid function index", "invalid local index", "invalid index for", "invalid global index",
	"undeclared function index", "memory must exist", "requires data count section",
	"invalid ln param", "invalid l param", "unknown function for export", "unknown global for export",
}

// UnknownOpcodeFragments are the fragments of wazero's messages for an
// opcode it does not know, or knows only under a feature not enabled.
var UnknownOpcodeFragments = []string{
	"invalid instruction", "unknown SIMD instruction", "unknown misc opcode",
	"invalid numeric instruction", "feature", "not supported", "invalid as",
}

// Matches reports whether err's message contains one of fragments.
func Matches(err error, fragments []string) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	for _, f := range fragments {
		if strings.Contains(msg, f) {
			return true
		}
	}
	return false
}
