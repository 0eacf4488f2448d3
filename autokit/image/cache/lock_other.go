//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package cache

import "os"

// flock does nothing where flock(2) is not available: a cache directory
// is then for one process only (see the package documentation).
func flock(f *os.File, wait bool) error { return nil }
