package testimage

import (
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// File type bits of st_mode, as the kernel's initramfs unpacker reads them.
const (
	modeDir     = 0o040000
	modeRegular = 0o100000
	modeSymlink = 0o120000
	modeCharDev = 0o020000
	modeTypes   = 0o170000
)

// cpioEntry is one member of a newc archive. Name has no leading slash.
// Data is the file's content, or the target of a symbolic link.
type cpioEntry struct {
	Name      string
	Mode      uint32 // type bits and permissions
	UID, GID  uint32
	Mtime     uint32
	Data      []byte
	RdevMajor uint32 // device nodes only
	RdevMinor uint32
}

// cpioWriter writes the SVR4 "newc" cpio format (magic 070701) that the
// Linux kernel unpacks as an initramfs. It writes exactly what it is given:
// ownership and modes come from the entries, not from the host, so building
// an archive of root-owned files and device nodes needs no privileges.
type cpioWriter struct {
	w      io.Writer
	ino    uint32
	closed bool
}

func newCPIOWriter(w io.Writer) *cpioWriter {
	return &cpioWriter{w: w, ino: 1}
}

// cpioPad is the zero padding that aligns headers and data to 4 bytes.
var cpioPad [4]byte

func (cw *cpioWriter) writeHeader(e *cpioEntry, nlink uint32, size int) error {
	name := e.Name + "\x00"
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		cw.ino, e.Mode, e.UID, e.GID, nlink, e.Mtime, size,
		0, 0, e.RdevMajor, e.RdevMinor, len(name), 0)
	cw.ino++
	if _, err := io.WriteString(cw.w, hdr+name); err != nil {
		return err
	}
	// The 110-byte header plus the name is padded to a multiple of four.
	_, err := cw.w.Write(cpioPad[:(4-(110+len(name))%4)%4])
	return err
}

// WriteEntry appends e to the archive.
func (cw *cpioWriter) WriteEntry(e cpioEntry) error {
	if cw.closed {
		return errors.New("testimage: cpio: write after close")
	}
	if e.Name == "" || strings.HasPrefix(e.Name, "/") || e.Name == "TRAILER!!!" {
		return fmt.Errorf("testimage: cpio: bad member name %q", e.Name)
	}
	nlink := uint32(1)
	switch e.Mode & modeTypes {
	case modeDir:
		nlink = 2
		if len(e.Data) != 0 {
			return fmt.Errorf("testimage: cpio: directory %s has data", e.Name)
		}
	case modeRegular, modeSymlink:
	case modeCharDev:
		if len(e.Data) != 0 {
			return fmt.Errorf("testimage: cpio: device %s has data", e.Name)
		}
	default:
		return fmt.Errorf("testimage: cpio: %s: unsupported file type %o", e.Name, e.Mode&modeTypes)
	}
	if err := cw.writeHeader(&e, nlink, len(e.Data)); err != nil {
		return fmt.Errorf("testimage: cpio: %w", err)
	}
	if _, err := cw.w.Write(e.Data); err != nil {
		return fmt.Errorf("testimage: cpio: %w", err)
	}
	if _, err := cw.w.Write(cpioPad[:(4-len(e.Data)%4)%4]); err != nil {
		return fmt.Errorf("testimage: cpio: %w", err)
	}
	return nil
}

// Close writes the trailer. It does not close the underlying writer.
func (cw *cpioWriter) Close() error {
	if cw.closed {
		return nil
	}
	cw.closed = true
	cw.ino = 0
	if err := cw.writeHeader(&cpioEntry{Name: "TRAILER!!!"}, 1, 0); err != nil {
		return fmt.Errorf("testimage: cpio: %w", err)
	}
	return nil
}

// fsTree collects the files of an initramfs so that they can be written in
// an order the kernel accepts (every directory before what it holds).
type fsTree struct {
	entries map[string]*cpioEntry
}

func newFSTree() *fsTree {
	return &fsTree{entries: make(map[string]*cpioEntry)}
}

func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

func (t *fsTree) add(e cpioEntry) {
	e.Name = cleanName(e.Name)
	if e.Name == "" {
		return
	}
	t.entries[e.Name] = &e
}

// Dir adds a directory owned by root.
func (t *fsTree) Dir(name string, perm uint32) {
	t.add(cpioEntry{Name: name, Mode: modeDir | perm})
}

// File adds a regular file owned by root.
func (t *fsTree) File(name string, perm uint32, data []byte) {
	t.add(cpioEntry{Name: name, Mode: modeRegular | perm, Data: data})
}

// Symlink adds a symbolic link at name pointing to target.
func (t *fsTree) Symlink(name, target string) {
	t.add(cpioEntry{Name: name, Mode: modeSymlink | 0o777, Data: []byte(target)})
}

// CharDev adds a character device node.
func (t *fsTree) CharDev(name string, perm, major, minor uint32) {
	t.add(cpioEntry{Name: name, Mode: modeCharDev | perm, RdevMajor: major, RdevMinor: minor})
}

// Has reports whether name was added.
func (t *fsTree) Has(name string) bool {
	_, ok := t.entries[cleanName(name)]
	return ok
}

// WriteTo writes the tree as a newc archive, adding any missing parent
// directories with mode 0755. Members are sorted by name, so parents come
// first and the output is the same for the same tree.
func (t *fsTree) WriteTo(w io.Writer) (int64, error) {
	for name := range t.entries {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if _, ok := t.entries[d]; !ok {
				t.entries[d] = &cpioEntry{Name: d, Mode: modeDir | 0o755}
			}
		}
	}
	for name := range t.entries {
		d := path.Dir(name)
		if d != "." && t.entries[d].Mode&modeTypes != modeDir {
			return 0, fmt.Errorf("testimage: cpio: %s is inside %s, which is not a directory", name, d)
		}
	}
	names := make([]string, 0, len(t.entries))
	for name := range t.entries {
		names = append(names, name)
	}
	sort.Strings(names)
	cw := &countingWriter{w: w}
	aw := newCPIOWriter(cw)
	for _, name := range names {
		if err := aw.WriteEntry(*t.entries[name]); err != nil {
			return cw.n, err
		}
	}
	err := aw.Close()
	return cw.n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
