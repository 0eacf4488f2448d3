package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// guestFiles are the scripts and /etc files of the test OS; @VERSION@ in
// them is replaced by Version.
//
//go:embed guest
var guestFiles embed.FS

// guestFile returns an embedded guest file with its placeholders filled.
func guestFile(name string) []byte {
	b, err := guestFiles.ReadFile("guest/" + name)
	if err != nil {
		panic("testimage: missing embedded guest file " + name)
	}
	return []byte(strings.ReplaceAll(string(b), "@VERSION@", Version))
}

// busyboxLinks are the applet links the archive carries; /init adds the
// rest with `busybox --install -s` once /proc is mounted.
var busyboxLinks = []string{
	"bin/sh", "bin/ash", "bin/cat", "bin/cp", "bin/date", "bin/df", "bin/dmesg",
	"bin/echo", "bin/grep", "bin/hostname", "bin/kill", "bin/ln", "bin/ls",
	"bin/mkdir", "bin/mount", "bin/mv", "bin/ps", "bin/rm", "bin/sed",
	"bin/sleep", "bin/sync", "bin/touch", "bin/umount", "bin/uname", "bin/vi",
	"sbin/halt", "sbin/ifconfig", "sbin/init", "sbin/insmod", "sbin/ip",
	"sbin/klogd", "sbin/lsmod", "sbin/poweroff", "sbin/reboot", "sbin/route",
	"sbin/syslogd", "sbin/udhcpc",
	"usr/bin/awk", "usr/bin/head", "usr/bin/tail", "usr/bin/tr", "usr/bin/wc",
}

// initramfsInput is everything the initramfs is assembled from.
type initramfsInput struct {
	Kernel   *kernelParts
	Busybox  []byte
	Helper   []byte
	Files    fileIndex // dropbear-bin and its libraries' packages
	Binaries []string  // from Files, copied with their libraries
	Libs     []string  // from Files: the binaries' shared objects and links
}

// buildInitramfs returns the gzip-compressed newc archive of the test OS.
func buildInitramfs(in initramfsInput) ([]byte, error) {
	t := newFSTree()
	for _, d := range []string{"proc", "sys", "dev", "run", "mnt/boot", "mnt/data", "var/log", "etc/leviathan"} {
		t.Dir(d, 0o755)
	}
	t.Dir("tmp", 0o1777)
	t.Dir("root", 0o700)
	t.Dir("etc/dropbear", 0o700)
	t.Symlink("var/run", "../run")
	t.CharDev("dev/console", 0o600, 5, 1)
	t.CharDev("dev/null", 0o666, 1, 3)

	t.File("bin/busybox", 0o755, in.Busybox)
	for _, l := range busyboxLinks {
		t.Symlink(l, "/bin/busybox")
	}
	t.File("usr/libexec/leviathan/guestconfig", 0o755, in.Helper)

	for _, p := range append(append([]string(nil), in.Binaries...), in.Libs...) {
		e := in.Files[p]
		if e == nil {
			return nil, fmt.Errorf("testimage: initramfs: /%s is not in the packages", p)
		}
		perm := uint32(e.Mode & 0o7777)
		switch {
		case e.Type == tar.TypeSymlink:
			t.Symlink(p, e.Link)
		case e.Data != nil:
			t.File(p, perm, e.Data)
		case e.Type == tar.TypeLink && in.Files[cleanName(e.Link)] != nil && in.Files[cleanName(e.Link)].Data != nil:
			t.File(p, perm, in.Files[cleanName(e.Link)].Data)
		default:
			return nil, fmt.Errorf("testimage: initramfs: /%s has no content", p)
		}
	}

	var order strings.Builder
	for _, m := range in.Kernel.Modules {
		t.File(path.Join("lib/modules", in.Kernel.Release, m.Path), 0o644, m.Data)
		order.WriteString(m.Path + "\n")
	}
	t.File("etc/leviathan/modules", 0o644, []byte(order.String()))
	t.File("etc/leviathan/version", 0o644, []byte(Version+"\n"))

	t.File("init", 0o755, guestFile("init"))
	t.File("etc/inittab", 0o644, guestFile("inittab"))
	t.File("etc/init.d/rcS", 0o755, guestFile("rcS"))
	t.File("etc/init.d/rcK", 0o755, guestFile("rcK"))
	t.File("usr/share/udhcpc/default.script", 0o755, guestFile("udhcpc.script"))
	t.File("etc/profile", 0o644, guestFile("profile"))
	t.File("etc/shrc", 0o644, guestFile("shrc"))
	t.File("etc/os-release", 0o644, guestFile("os-release"))
	t.Symlink("usr/lib/os-release", "../../etc/os-release")
	t.File("etc/passwd", 0o644, guestFile("passwd"))
	t.File("etc/group", 0o644, guestFile("group"))
	t.File("etc/shadow", 0o600, guestFile("shadow"))
	t.File("etc/shells", 0o644, guestFile("shells"))
	t.File("etc/nsswitch.conf", 0o644, guestFile("nsswitch.conf"))
	t.File("etc/hostname", 0o644, []byte(defaultHostname+"\n"))
	t.File("etc/hosts", 0o644, []byte("127.0.0.1\tlocalhost\n127.0.1.1\t"+defaultHostname+"\n"))
	t.File("etc/resolv.conf", 0o644, nil)

	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("testimage: initramfs: %w", err)
	}
	if _, err := t.WriteTo(zw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("testimage: initramfs: %w", err)
	}
	return buf.Bytes(), nil
}

// guestFileHashInput lists the embedded guest files for the recipe hash.
func guestFileHashInput(add func(name string, data []byte)) error {
	return fs.WalkDir(guestFiles, "guest", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := guestFiles.ReadFile(p)
		if err != nil {
			return err
		}
		add(p, b)
		return nil
	})
}
