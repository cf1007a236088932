//go:build !unix

package cache

var (
	unixBadFiles []badFileTest
	unixDirs     []dirTest
)
