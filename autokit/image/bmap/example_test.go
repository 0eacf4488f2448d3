package bmap_test

import (
	"fmt"
	"os"

	"github.com/balena/leviathan-action/autokit/image/bmap"
)

// Read the block map bmaptool wrote for an image and see how much of the
// image a flasher following it has to write.
func Example() {
	f, err := os.Open("testdata/v2.0-sha256.bmap")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	m, err := bmap.Parse(f)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := m.Check(2098152); err != nil { // the decompressed image's size
		fmt.Println(err)
		return
	}
	fmt.Printf("format %s, %d of %d blocks mapped, %d of %d bytes to write\n",
		m.Version, m.MappedBlocksCount, m.BlocksCount, m.MappedBytes(), m.ImageSize)
	for _, r := range m.Ranges {
		fmt.Printf("blocks %d-%d sha256 %.12s…\n", r.First, r.Last, r.SHA256)
	}
	// Output:
	// format 2.0, 7 of 513 blocks mapped, 25576 of 2098152 bytes to write
	// blocks 0-0 sha256 2b26ea778a87…
	// blocks 64-68 sha256 41bab867b48c…
	// blocks 512-512 sha256 28ce926f626e…
}
