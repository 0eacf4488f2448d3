package bootpart

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Storage is what TidyFAT needs: random access to the disk.
type Storage interface {
	io.ReaderAt
	io.WriterAt
}

// fatGeometry is what a FAT boot sector says about the layout.
type fatGeometry struct {
	bits          int // 12, 16 or 32
	bytesPerSec   int64
	secPerClus    int64
	reserved      int64
	fats          int64
	fatSectors    int64
	rootEntries   int64 // FAT12/16 fixed root directory
	rootCluster   uint32
	fsInfoSector  int64
	backupBootSec int64
	clusters      uint32 // data clusters, numbered 2..clusters+1
	dataStart     int64  // byte offset of cluster 2 from the volume start
	rootStart     int64  // byte offset of the FAT12/16 root directory
}

func readGeometry(s Storage, start int64) (*fatGeometry, error) {
	bs := make([]byte, 512)
	if _, err := s.ReadAt(bs, start); err != nil {
		return nil, fmt.Errorf("reading the boot sector: %w", err)
	}
	g := &fatGeometry{
		bytesPerSec: int64(binary.LittleEndian.Uint16(bs[11:])),
		secPerClus:  int64(bs[13]),
		reserved:    int64(binary.LittleEndian.Uint16(bs[14:])),
		fats:        int64(bs[16]),
		rootEntries: int64(binary.LittleEndian.Uint16(bs[17:])),
		fatSectors:  int64(binary.LittleEndian.Uint16(bs[22:])),
	}
	total := int64(binary.LittleEndian.Uint16(bs[19:]))
	if total == 0 {
		total = int64(binary.LittleEndian.Uint32(bs[32:]))
	}
	if g.fatSectors == 0 {
		g.fatSectors = int64(binary.LittleEndian.Uint32(bs[36:]))
		g.rootCluster = binary.LittleEndian.Uint32(bs[44:])
		g.fsInfoSector = int64(binary.LittleEndian.Uint16(bs[48:]))
		g.backupBootSec = int64(binary.LittleEndian.Uint16(bs[50:]))
	}
	switch g.bytesPerSec {
	case 512, 1024, 2048, 4096:
	default:
		return nil, fmt.Errorf("not a FAT boot sector: %d bytes per sector", g.bytesPerSec)
	}
	if g.secPerClus == 0 || g.fats == 0 || g.fatSectors == 0 || bs[510] != 0x55 || bs[511] != 0xaa {
		return nil, errors.New("not a FAT boot sector")
	}
	rootSectors := (g.rootEntries*32 + g.bytesPerSec - 1) / g.bytesPerSec
	firstData := g.reserved + g.fats*g.fatSectors + rootSectors
	if total <= firstData {
		return nil, errors.New("not a FAT boot sector: no data area")
	}
	g.clusters = uint32((total - firstData) / g.secPerClus)
	g.dataStart = firstData * g.bytesPerSec
	g.rootStart = (g.reserved + g.fats*g.fatSectors) * g.bytesPerSec
	switch {
	case g.clusters < 4085:
		g.bits = 12
	case g.clusters < 65525:
		g.bits = 16
	default:
		g.bits = 32
	}
	if (g.bits == 32) != (g.rootEntries == 0) {
		return nil, fmt.Errorf("inconsistent FAT boot sector (%d clusters, %d root entries)", g.clusters, g.rootEntries)
	}
	return g, nil
}

// fatTable is the in-memory copy of the first FAT.
type fatTable struct {
	bits  int
	b     []byte
	dirty bool
}

func (t *fatTable) get(n uint32) uint32 {
	switch t.bits {
	case 12:
		off := n + n/2
		v := uint32(binary.LittleEndian.Uint16(t.b[off:]))
		if n%2 == 1 {
			return v >> 4
		}
		return v & 0xfff
	case 16:
		return uint32(binary.LittleEndian.Uint16(t.b[2*n:]))
	default:
		return binary.LittleEndian.Uint32(t.b[4*n:]) & 0x0fffffff
	}
}

func (t *fatTable) set(n, v uint32) {
	t.dirty = true
	switch t.bits {
	case 12:
		off := n + n/2
		old := binary.LittleEndian.Uint16(t.b[off:])
		if n%2 == 1 {
			old = old&0x000f | uint16(v&0xfff)<<4
		} else {
			old = old&0xf000 | uint16(v&0xfff)
		}
		binary.LittleEndian.PutUint16(t.b[off:], old)
	case 16:
		binary.LittleEndian.PutUint16(t.b[2*n:], uint16(v))
	default:
		old := binary.LittleEndian.Uint32(t.b[4*n:])
		binary.LittleEndian.PutUint32(t.b[4*n:], old&0xf0000000|v&0x0fffffff)
	}
}

func (t *fatTable) isEnd(v uint32) bool {
	switch t.bits {
	case 12:
		return v >= 0xff8
	case 16:
		return v >= 0xfff8
	default:
		return v >= 0x0ffffff8
	}
}

// tidier walks one FAT volume.
type tidier struct {
	s       Storage
	start   int64
	g       *fatGeometry
	fat     *fatTable
	visited map[uint32]bool
	used    map[uint32]bool // clusters some file or directory owns
	broken  bool            // a chain could not be followed: reclaim nothing
}

// own marks the chain that starts at first as in use.
func (td *tidier) own(first uint32) []uint32 {
	cs, err := td.chain(first)
	if err != nil {
		td.broken = true
	}
	for _, c := range cs {
		td.used[c] = true
	}
	return cs
}

// chain returns the clusters of the chain that starts at first.
func (td *tidier) chain(first uint32) ([]uint32, error) {
	var cs []uint32
	seen := make(map[uint32]bool)
	for c := first; ; {
		if c < 2 || c > td.g.clusters+1 || seen[c] {
			return cs, fmt.Errorf("broken cluster chain at %d", c)
		}
		seen[c] = true
		cs = append(cs, c)
		next := td.fat.get(c)
		if td.fat.isEnd(next) {
			return cs, nil
		}
		c = next
	}
}

func (td *tidier) clusterOffset(c uint32) int64 {
	return td.start + td.g.dataStart + int64(c-2)*td.g.secPerClus*td.g.bytesPerSec
}

// dir tidies the directory stored in clusters (or the fixed FAT12/16 root
// when clusters is nil), then its subdirectories. root says whether it is
// the root directory, parentIsRoot whether it sits in the root.
func (td *tidier) dir(clusters []uint32, root, parentIsRoot bool) error {
	clusterBytes := td.g.secPerClus * td.g.bytesPerSec
	var b []byte
	if clusters == nil {
		b = make([]byte, td.g.rootEntries*32)
		if _, err := td.s.ReadAt(b, td.start+td.g.rootStart); err != nil {
			return err
		}
	} else {
		b = make([]byte, int64(len(clusters))*clusterBytes)
		for i, c := range clusters {
			if _, err := td.s.ReadAt(b[int64(i)*clusterBytes:int64(i+1)*clusterBytes], td.clusterOffset(c)); err != nil {
				return err
			}
		}
	}
	dirty := false
	var subdirs []uint32
	for off := 0; off+32 <= len(b); off += 32 {
		e := b[off : off+32]
		if e[0] == 0 {
			break
		}
		attr := e[11]
		if e[0] == 0xe5 || attr == 0x0f || attr&0x08 != 0 {
			continue
		}
		cluster := uint32(binary.LittleEndian.Uint16(e[26:]))
		if td.g.bits == 32 {
			cluster |= uint32(binary.LittleEndian.Uint16(e[20:])) << 16
		}
		size := binary.LittleEndian.Uint32(e[28:])
		name := string(e[0:11])
		switch {
		case name == "..         ":
			// ".." of a directory in the root points at cluster 0, even
			// on FAT32 where the root has a cluster of its own.
			if parentIsRoot && cluster != 0 {
				binary.LittleEndian.PutUint16(e[20:], 0)
				binary.LittleEndian.PutUint16(e[26:], 0)
				dirty = true
			}
		case name == ".          ":
		case attr&0x10 != 0:
			if cluster >= 2 {
				subdirs = append(subdirs, cluster)
			}
		case size != 0 && cluster != 0:
			td.own(cluster)
		case size == 0 && cluster != 0:
			// An empty file owns no clusters; the sweep below frees them.
			binary.LittleEndian.PutUint16(e[20:], 0)
			binary.LittleEndian.PutUint16(e[26:], 0)
			dirty = true
		}
	}
	if dirty {
		if clusters == nil {
			if _, err := td.s.WriteAt(b, td.start+td.g.rootStart); err != nil {
				return err
			}
		} else {
			for i, c := range clusters {
				if _, err := td.s.WriteAt(b[int64(i)*clusterBytes:int64(i+1)*clusterBytes], td.clusterOffset(c)); err != nil {
					return err
				}
			}
		}
	}
	for _, sd := range subdirs {
		if td.visited[sd] {
			continue
		}
		td.visited[sd] = true
		cs := td.own(sd)
		if td.broken {
			return fmt.Errorf("broken cluster chain of a directory at cluster %d", sd)
		}
		if err := td.dir(cs, false, root); err != nil {
			return err
		}
	}
	return nil
}

// shrinkVolume sets the volume's total sector count so that it has
// clusters data clusters, in the boot sector and its FAT32 backup.
func shrinkVolume(s Storage, start int64, g *fatGeometry, clusters uint32) error {
	total := g.dataStart/g.bytesPerSec + int64(clusters)*g.secPerClus
	sectors := []int64{0}
	if g.bits == 32 && g.backupBootSec > 0 {
		sectors = append(sectors, g.backupBootSec)
	}
	for _, sec := range sectors {
		bs := make([]byte, 512)
		off := start + sec*g.bytesPerSec
		if _, err := s.ReadAt(bs, off); err != nil {
			return fmt.Errorf("reading boot sector: %w", err)
		}
		if bs[510] != 0x55 || bs[511] != 0xaa {
			continue
		}
		if binary.LittleEndian.Uint16(bs[19:]) != 0 {
			binary.LittleEndian.PutUint16(bs[19:], uint16(total))
		} else {
			binary.LittleEndian.PutUint32(bs[32:], uint32(total))
		}
		if _, err := s.WriteAt(bs, off); err != nil {
			return fmt.Errorf("writing boot sector: %w", err)
		}
	}
	g.clusters = clusters
	return nil
}

// TidyFAT brings the FAT filesystem that starts at byte offset start of s
// into the state fsck.fat expects, repairing what go-diskfs's writer leaves
// behind: the ".." entries of directories in the root (which must point at
// cluster 0), clusters still held by empty files or by no file at all, the
// FAT32 FSInfo free-cluster count and next-free hint, and a volume that
// declares a few more clusters than its FAT can address (it is shrunk to
// fit). It changes nothing else.
func TidyFAT(s Storage, start int64) error {
	g, err := readGeometry(s, start)
	if err != nil {
		return fmt.Errorf("bootpart: tidy: %w", err)
	}
	fatBytes := g.fatSectors * g.bytesPerSec
	if entries := uint32(fatBytes * 8 / int64(g.bits)); entries < g.clusters+2 {
		// go-diskfs can size a FAT two entries short of the data area: the
		// last clusters can never be used, and fsck.fat refuses the volume.
		// Shrink the volume to what its FAT can address.
		if entries <= 2 {
			return fmt.Errorf("bootpart: tidy: FAT of %d bytes is too small", fatBytes)
		}
		if err := shrinkVolume(s, start, g, entries-2); err != nil {
			return fmt.Errorf("bootpart: tidy: %w", err)
		}
	}
	fat := &fatTable{bits: g.bits, b: make([]byte, fatBytes+2)}
	if _, err := s.ReadAt(fat.b[:fatBytes], start+g.reserved*g.bytesPerSec); err != nil {
		return fmt.Errorf("bootpart: tidy: reading the FAT: %w", err)
	}
	td := &tidier{s: s, start: start, g: g, fat: fat, visited: make(map[uint32]bool), used: make(map[uint32]bool)}

	var rootClusters []uint32 // nil: the fixed FAT12/16 root
	if g.bits == 32 {
		if rootClusters = td.own(g.rootCluster); td.broken {
			return fmt.Errorf("bootpart: tidy: broken cluster chain of the root directory")
		}
		td.visited[g.rootCluster] = true
	}
	if err := td.dir(rootClusters, true, false); err != nil {
		return fmt.Errorf("bootpart: tidy: %w", err)
	}

	// Clusters no file or directory owns (go-diskfs's Remove leaves
	// them behind) are free again. Bad-cluster marks stay.
	if !td.broken {
		bad := map[int]uint32{12: 0xff7, 16: 0xfff7, 32: 0x0ffffff7}[g.bits]
		for c := uint32(2); c < g.clusters+2; c++ {
			if v := fat.get(c); v != 0 && v != bad && !td.used[c] {
				fat.set(c, 0)
			}
		}
	}

	if fat.dirty {
		for i := range g.fats {
			if _, err := s.WriteAt(fat.b[:fatBytes], start+(g.reserved+i*g.fatSectors)*g.bytesPerSec); err != nil {
				return fmt.Errorf("bootpart: tidy: writing FAT %d: %w", i+1, err)
			}
		}
	}

	if g.bits == 32 && g.fsInfoSector > 0 {
		free, next := uint32(0), uint32(0xffffffff)
		for c := uint32(2); c < g.clusters+2; c++ {
			if fat.get(c) == 0 {
				free++
				if next == 0xffffffff {
					next = c
				}
			}
		}
		var vals [8]byte
		binary.LittleEndian.PutUint32(vals[0:], free)
		binary.LittleEndian.PutUint32(vals[4:], next)
		sectors := []int64{g.fsInfoSector}
		if g.backupBootSec > 0 {
			sectors = append(sectors, g.backupBootSec+g.fsInfoSector)
		}
		for _, sec := range sectors {
			off := start + sec*g.bytesPerSec
			sig := make([]byte, 4)
			if _, err := s.ReadAt(sig, off); err != nil {
				return fmt.Errorf("bootpart: tidy: reading FSInfo: %w", err)
			}
			if string(sig) != "RRaA" {
				continue
			}
			if _, err := s.WriteAt(vals[:], off+488); err != nil {
				return fmt.Errorf("bootpart: tidy: writing FSInfo: %w", err)
			}
		}
	}
	return nil
}

// checkRoom fails, saying "no space left on device", when the FAT volume
// at start of s cannot take a file of size bytes in place of one of old
// bytes, plus dirs new directories. go-diskfs does not check: it hands
// out clusters its FAT can address even past the end of the volume's
// data area, and so writes past the end of the partition.
func checkRoom(s Storage, start int64, name string, size, old int64, dirs int) error {
	g, err := readGeometry(s, start)
	if err != nil {
		return fmt.Errorf("bootpart: write %s: %w", name, err)
	}
	fatBytes := g.fatSectors * g.bytesPerSec
	fat := &fatTable{bits: g.bits, b: make([]byte, fatBytes+2)}
	if _, err := s.ReadAt(fat.b[:fatBytes], start+g.reserved*g.bytesPerSec); err != nil {
		return fmt.Errorf("bootpart: write %s: reading the FAT: %w", name, err)
	}
	last := min(g.clusters+1, uint32(fatBytes*8/int64(g.bits))-1)
	var free int64
	for c := uint32(2); c <= last; c++ {
		if fat.get(c) == 0 {
			free++
		}
	}
	cb := g.secPerClus * g.bytesPerSec
	need := (size+cb-1)/cb - (old+cb-1)/cb + int64(dirs)
	if need > free {
		return fmt.Errorf("bootpart: write %s: no space left on device: %d bytes need %d more clusters of %d bytes, the filesystem has %d free (%d bytes)",
			name, size, need, cb, free, free*cb)
	}
	return nil
}
