package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"sort"

	"github.com/balena/leviathan-action/autokit/image/bmap"
)

// mapped reports whether any block of [off, off+n) is in one of m's ranges.
func mapped(m *bmap.Map, off, n int64) bool {
	first, last := off/m.BlockSize, (off+n-1)/m.BlockSize
	// The first range that ends at or after first.
	i := sort.Search(len(m.Ranges), func(i int) bool { return m.Ranges[i].Last >= first })
	return i < len(m.Ranges) && m.Ranges[i].First <= last
}

// rangeChecker hashes each mapped range of the source as it streams past
// and compares it with the bmap's checksum.
type rangeChecker struct {
	m   *bmap.Map
	i   int // the range being hashed
	h   hash.Hash
	end int64 // image offset where range i ends
}

func newRangeChecker(m *bmap.Map) *rangeChecker {
	c := &rangeChecker{m: m, h: sha256.New()}
	c.setEnd()
	return c
}

func (c *rangeChecker) setEnd() {
	if c.i < len(c.m.Ranges) {
		c.end = min((c.m.Ranges[c.i].Last+1)*c.m.BlockSize, c.m.ImageSize)
	}
}

// add feeds p, the source bytes at off.
func (c *rangeChecker) add(off int64, p []byte) error {
	pend := off + int64(len(p))
	for c.i < len(c.m.Ranges) {
		rg := c.m.Ranges[c.i]
		start := rg.First * c.m.BlockSize
		if start >= pend {
			return nil
		}
		from, to := max(start, off), min(c.end, pend)
		if from < to {
			c.h.Write(p[from-off : to-off])
		}
		if c.end > pend {
			return nil
		}
		if err := c.check(); err != nil {
			return err
		}
	}
	return nil
}

func (c *rangeChecker) check() error {
	rg := c.m.Ranges[c.i]
	if rg.SHA256 != "" {
		if got := hex.EncodeToString(c.h.Sum(nil)); got != rg.SHA256 {
			return &ChecksumError{What: fmt.Sprintf("bmap range %d (blocks %d-%d): the image does not match its bmap", c.i, rg.First, rg.Last), Want: rg.SHA256, Got: got}
		}
	}
	c.i++
	c.h.Reset()
	c.setEnd()
	return nil
}

// finish checks the image ended where the bmap says.
func (c *rangeChecker) finish(size int64) error {
	if size != c.m.ImageSize {
		return wrongBmapSize(c.m, size)
	}
	if c.i < len(c.m.Ranges) {
		return fmt.Errorf("image: the image ended before bmap range %d: wrong bmap for this image", c.i)
	}
	return nil
}

// wrongBmapSize is the error of a block map made for an image of another
// size than the image's.
func wrongBmapSize(m *bmap.Map, size int64) error {
	return fmt.Errorf("image: the bmap describes a %d-byte image, the image has %d bytes: wrong bmap for this image", m.ImageSize, size)
}
