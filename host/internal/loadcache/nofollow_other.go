//go:build !unix

package loadcache

// openNoFollow is 0 where the system has no O_NOFOLLOW; the host's check of
// the directory refuses symbolic links in it at New.
const openNoFollow = 0
