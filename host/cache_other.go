//go:build !unix

package host

import "io/fs"

// checkCacheDir checks nothing on systems without Unix owners and modes:
// there the directory's access control lists are the user's to keep.
func checkCacheDir(string) error { return nil }

// checkCacheFile checks nothing either, for the same reason.
func checkCacheFile(string, fs.FileInfo) error { return nil }
