package testimage

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// readNewc parses a newc archive back into entries (a check independent of
// the writer's bookkeeping) and fails on any misalignment.
func readNewc(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		if err != nil {
			t.Fatalf("offset %d: field %d: %v", off, i, err)
		}
		return uint32(v)
	}
	for {
		if off%4 != 0 {
			t.Fatalf("header at offset %d is not 4-byte aligned", off)
		}
		if off+110 > len(b) || string(b[off:off+6]) != "070701" {
			t.Fatalf("no newc header at offset %d", off)
		}
		e := cpioEntry{
			Mode: field(1), UID: field(2), GID: field(3), Mtime: field(5),
			RdevMajor: field(9), RdevMinor: field(10),
		}
		size, nameSize := int(field(6)), int(field(11))
		name := b[off+110 : off+110+nameSize]
		if name[len(name)-1] != 0 {
			t.Fatalf("name at offset %d is not NUL-terminated", off)
		}
		e.Name = string(name[:len(name)-1])
		off += 110 + nameSize
		off = (off + 3) &^ 3
		e.Data = b[off : off+size]
		off += size
		off = (off + 3) &^ 3
		if e.Name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, e)
	}
}

func TestCPIOWriter(t *testing.T) {
	tree := newFSTree()
	tree.File("/init", 0o755, []byte("#!/bin/sh\necho hi\n"))
	tree.File("etc/shadow", 0o600, []byte("root:*:1::::::\n"))
	tree.File("empty", 0o644, nil)
	tree.File("bin/busybox", 0o755, bytes.Repeat([]byte{0x7f}, 4097))
	tree.Symlink("bin/sh", "busybox")
	tree.Dir("tmp", 0o1777)
	tree.CharDev("dev/console", 0o600, 5, 1)
	tree.CharDev("dev/null", 0o666, 1, 3)
	var buf bytes.Buffer
	n, err := tree.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("WriteTo returned %d, wrote %d", n, buf.Len())
	}

	entries := readNewc(t, buf.Bytes())
	var names []string
	byName := make(map[string]cpioEntry)
	for _, e := range entries {
		names = append(names, e.Name)
		byName[e.Name] = e
		if e.UID != 0 || e.GID != 0 {
			t.Errorf("%s owned by %d:%d, want 0:0", e.Name, e.UID, e.GID)
		}
	}
	want := []string{"bin", "bin/busybox", "bin/sh", "dev", "dev/console", "dev/null", "empty", "etc", "etc/shadow", "init", "tmp"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("members %v, want %v", names, want)
	}
	for _, c := range []struct {
		name  string
		mode  uint32
		data  string
		major uint32
		minor uint32
	}{
		{"bin", modeDir | 0o755, "", 0, 0}, // added as a parent
		{"tmp", modeDir | 0o1777, "", 0, 0},
		{"init", modeRegular | 0o755, "#!/bin/sh\necho hi\n", 0, 0},
		{"etc/shadow", modeRegular | 0o600, "root:*:1::::::\n", 0, 0},
		{"bin/sh", modeSymlink | 0o777, "busybox", 0, 0},
		{"dev/console", modeCharDev | 0o600, "", 5, 1},
		{"dev/null", modeCharDev | 0o666, "", 1, 3},
	} {
		e := byName[c.name]
		if e.Mode != c.mode || string(e.Data) != c.data || e.RdevMajor != c.major || e.RdevMinor != c.minor {
			t.Errorf("%s: mode %o data %q rdev %d:%d; want mode %o data %q rdev %d:%d",
				c.name, e.Mode, e.Data, e.RdevMajor, e.RdevMinor, c.mode, c.data, c.major, c.minor)
		}
	}
	if len(byName["bin/busybox"].Data) != 4097 {
		t.Errorf("bin/busybox has %d bytes", len(byName["bin/busybox"].Data))
	}

	// The real tool must agree.
	cpio, err := exec.LookPath("cpio")
	if err != nil {
		t.Skipf("cpio not installed, skipping the cross-check with it (apt-get install cpio): %v", err)
	}
	p := filepath.Join(t.TempDir(), "initrd.cpio")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cpio, "-t", "-v", "--quiet", "--numeric-uid-gid", "-F", p)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -t: %v\n%s", err, out)
	}
	listing := string(out)
	t.Logf("cpio -tv:\n%s", listing)
	for _, w := range []string{
		"crw-------   1 0        0          5,   1",
		"crw-rw-rw-   1 0        0          1,   3",
		"lrwxrwxrwx   1 0        0               7",
		"drwxrwxrwt   2 0        0               0",
		"-rw-------   1 0        0              15",
		"bin/sh -> busybox",
	} {
		if !strings.Contains(listing, w) {
			t.Errorf("cpio -tv output lacks %q", w)
		}
	}
	lines := strings.Split(strings.TrimSpace(listing), "\n")
	if len(lines) != len(want) {
		t.Errorf("cpio lists %d members, want %d", len(lines), len(want))
	}
}

func TestCPIOWriterErrors(t *testing.T) {
	for i, e := range []cpioEntry{
		{Name: "", Mode: modeRegular | 0o644},
		{Name: "/abs", Mode: modeRegular | 0o644},
		{Name: "TRAILER!!!", Mode: modeRegular | 0o644},
		{Name: "d", Mode: modeDir | 0o755, Data: []byte("x")},
		{Name: "sock", Mode: 0o140000 | 0o644},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			w := newCPIOWriter(&bytes.Buffer{})
			if err := w.WriteEntry(e); err == nil || !strings.HasPrefix(err.Error(), "testimage: cpio: ") {
				t.Errorf("WriteEntry(%+v) = %v, want a testimage: cpio: error", e, err)
			}
		})
	}
	tree := newFSTree()
	tree.File("a", 0o644, []byte("x"))
	tree.File("a/b", 0o644, []byte("y"))
	if _, err := tree.WriteTo(&bytes.Buffer{}); err == nil {
		t.Error("a file inside a file was accepted")
	}
	w := newCPIOWriter(&bytes.Buffer{})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteEntry(cpioEntry{Name: "late", Mode: modeRegular}); err == nil {
		t.Error("write after Close succeeded")
	}
}
