package host

import "errors"

// ErrUnsafeCacheDir means the compilation cache directory given to
// [WithCompilationCacheDir], or something in it, is not the current user's
// alone: owned by another user, writable by its group or by others, or a
// symbolic link below the directory itself. wazero runs cached code as it
// finds it: whoever can write there can plant code that runs under any
// digest pin ([WithPinnedDigests] checks the module's bytes, not the cache).
// [New] refuses such a directory; use another, or fix its owner and mode.
var ErrUnsafeCacheDir = errors.New("host: unsafe compilation cache directory")
