// Package loadcache keeps what the host computes at Load, in the
// compilation cache directory, for the next process that loads the same
// module with the same settings: a warm `wasmreg run` then skips the strict
// read, the rewrites and their compile-cost check (docs/PERFORMANCE.md,
// section 5), which take longer than wazero's own cached compile.
//
// An entry is a sequence of byte fields in an envelope: a magic string, the
// format [Version], the 32-byte key the entry was written under, the
// fields, each with its length, and a CRC-32C of everything before it.
// [Decode] reads one strictly and refuses anything else: another version,
// another key, a field count or length that does not add up, trailing
// bytes, a checksum mismatch. The caller decodes each field as strictly.
//
// # Threat
//
// Every entry is hostile input. The directory is checked to be the current
// user's alone (the host's checkCacheDir, and [Read] checks each file
// again as it opens it), which keeps other users out: someone who can
// write there could as well plant native code in wazero's entries beside
// ours. What the checks here defend against is everything else: a torn
// or truncated write ([Write] writes a temporary file and renames it, and a
// truncated entry fails its length or checksum), bit rot, an entry of
// another wasmreg build or of other settings (the key and the version),
// and a corrupt entry crafted to crash the reader (bounded sizes, no
// allocation before a length is checked against the bytes read;
// FuzzDecode). On any mismatch the host ignores the entry and computes
// afresh.
//
// # Concurrency
//
// Every function of the package is safe for concurrent use, by goroutines
// and by processes sharing the directory: a reader sees either no entry or
// a whole one.
package loadcache
