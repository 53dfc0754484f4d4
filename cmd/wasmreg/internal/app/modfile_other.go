//go:build !unix

package app

// noFollow is 0 where open cannot refuse a symbolic link: readModuleFile
// then checks the file it opened (it must be regular) but follows links.
const noFollow = 0
