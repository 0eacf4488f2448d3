package devio

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestHexRoundTrip(t *testing.T) {
	for _, s := range []string{"", "00 ff 01", "cf 23 82 00*13", "00*512", "01 00*8 02 00 00"} {
		h, err := ParseHex(s)
		if err != nil {
			t.Fatalf("ParseHex(%q): %v", s, err)
		}
		if got := h.String(); got != s {
			t.Errorf("ParseHex(%q).String() = %q", s, got)
		}
	}
	h, _ := ParseHex("0102 00*2")
	if len(h) != 4 || h[1] != 2 {
		t.Errorf("ParseHex(\"0102 00*2\") = %v", []byte(h))
	}
	for _, bad := range []string{"0", "zz", "00*x", "00*-1"} {
		if _, err := ParseHex(bad); err == nil {
			t.Errorf("ParseHex(%q) succeeded", bad)
		}
	}
}

func TestReqJSON(t *testing.T) {
	b, _ := json.Marshal(Req(0xc0094806))
	if string(b) != `"0xc0094806"` {
		t.Errorf("Marshal = %s", b)
	}
	var r Req
	if err := json.Unmarshal([]byte(`"0x2285"`), &r); err != nil || r != 0x2285 {
		t.Errorf("Unmarshal = %#x, %v", uint(r), err)
	}
}

func newPlayback(ops ...Op) *Playback { return &Playback{Name: "test.json", Ops: ops} }

var script = []Op{
	{Op: OpOpen, Path: "/dev/x", Flag: os.O_RDWR},
	{Op: OpIoctl, Path: "/dev/x", Req: 0x1234, Arg: Hex{1, 2, 0, 0, 0, 0, 0, 0, 0, 0}, Out: Hex{1, 2, 0, 0, 0, 0, 0, 0, 0, 9},
		Bufs: []Buf{{Offset: 2, In: Hex{7}, Out: Hex{8}}}},
	{Op: OpWrite, Path: "/dev/x", Data: Hex{0xaa}},
	{Op: OpRead, Path: "/dev/x", Len: 4, Data: Hex{0xbb, 0xcc}},
	{Op: OpClose, Path: "/dev/x"},
}

func TestPlaybackFollowsScript(t *testing.T) {
	p := newPlayback(script...)
	d, err := p.Open("/dev/x", os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	arg := []byte{1, 2, 0, 0, 0, 0, 0, 0, 0, 0}
	buf := []byte{7}
	if err := d.Ioctl(0x1234, arg, Pointer{Offset: 2, Buf: buf}); err != nil {
		t.Fatal(err)
	}
	if arg[9] != 9 || buf[0] != 8 {
		t.Errorf("ioctl results not replayed: arg %x buf %x", arg, buf)
	}
	if _, err := d.Write([]byte{0xaa}); err != nil {
		t.Fatal(err)
	}
	rb := make([]byte, 4)
	if n, err := d.Read(rb); err != nil || n != 2 || rb[1] != 0xcc {
		t.Errorf("Read = %d %x, %v", n, rb, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Done(); err != nil {
		t.Errorf("Done: %v", err)
	}
}

func TestPlaybackFailures(t *testing.T) {
	t.Run("unexpected", func(t *testing.T) {
		p := newPlayback(script[0])
		d, _ := p.Open("/dev/x", os.O_RDWR)
		_, err := d.Write([]byte{1})
		var me *MismatchError
		if !errors.As(err, &me) || me.Want != nil || !strings.Contains(err.Error(), "unexpected operation #1") {
			t.Fatalf("Write past the end = %v", err)
		}
		if p.Done() == nil {
			t.Error("Done is nil after an unexpected operation")
		}
	})
	t.Run("wrong bytes", func(t *testing.T) {
		p := newPlayback(script[:3]...)
		d, _ := p.Open("/dev/x", os.O_RDWR)
		d.Ioctl(0x1234, []byte{1, 2, 0, 0, 0, 0, 0, 0, 0, 0}, Pointer{Offset: 2, Buf: []byte{7}})
		_, err := d.Write([]byte{0xab})
		if err == nil || !strings.Contains(err.Error(), "written data differs at byte 0: 0xab, want 0xaa") {
			t.Fatalf("Write with wrong bytes = %v", err)
		}
		if err := p.Done(); err == nil || !strings.Contains(err.Error(), "differs at byte 0") {
			t.Errorf("Done = %v", err)
		}
	})
	t.Run("wrong ioctl argument", func(t *testing.T) {
		p := newPlayback(script[:2]...)
		d, _ := p.Open("/dev/x", os.O_RDWR)
		err := d.Ioctl(0x1234, []byte{1, 3, 0, 0, 0, 0, 0, 0, 0, 0}, Pointer{Offset: 2, Buf: []byte{7}})
		if err == nil || !strings.Contains(err.Error(), "argument differs at byte 1") {
			t.Fatalf("Ioctl = %v", err)
		}
		err = d.Ioctl(0x1234, []byte{1, 2, 0, 0, 0, 0, 0, 0, 0, 0}, Pointer{Offset: 2, Buf: []byte{6}})
		if err == nil || !strings.Contains(err.Error(), "buffer at offset 2 differs") {
			t.Fatalf("Ioctl = %v", err)
		}
		err = d.Ioctl(0x1235, []byte{1, 2, 0, 0, 0, 0, 0, 0, 0, 0})
		if err == nil || !strings.Contains(err.Error(), "got ioctl 0x1235, want ioctl 0x1234") {
			t.Fatalf("Ioctl = %v", err)
		}
	})
	t.Run("out of order", func(t *testing.T) {
		p := newPlayback(script...)
		d, _ := p.Open("/dev/x", os.O_RDWR)
		_, err := d.Write([]byte{0xaa})
		if err == nil || !strings.Contains(err.Error(), "got write, want ioctl") {
			t.Fatalf("Write before ioctl = %v", err)
		}
	})
	t.Run("wrong device", func(t *testing.T) {
		p := newPlayback(script...)
		if _, err := p.Open("/dev/y", os.O_RDWR); err == nil || !strings.Contains(err.Error(), "got device /dev/y, want /dev/x") {
			t.Fatalf("Open = %v", err)
		}
		if _, err := p.Open("/dev/x", os.O_RDONLY); err == nil || !strings.Contains(err.Error(), "open flags 0x0, want 0x2") {
			t.Fatalf("Open = %v", err)
		}
	})
	t.Run("unused", func(t *testing.T) {
		p := newPlayback(script...)
		p.Open("/dev/x", os.O_RDWR)
		err := p.Done()
		if err == nil || !strings.Contains(err.Error(), "4 recorded operations unused, from #1: ioctl /dev/x ioctl 0x1234") {
			t.Fatalf("Done = %v", err)
		}
	})
	t.Run("recorded errno", func(t *testing.T) {
		p := newPlayback(Op{Op: OpOpen, Path: "/dev/x", Flag: os.O_RDWR, Err: "EACCES"})
		_, err := p.Open("/dev/x", os.O_RDWR)
		if !errors.Is(err, os.ErrPermission) || !errors.Is(err, syscall.EACCES) {
			t.Fatalf("Open = %v, want EACCES", err)
		}
		if err := p.Done(); err != nil {
			t.Errorf("Done = %v", err)
		}
	})
}

// figetbsz is FIGETBSZ from <linux/fs.h>: _IO(0x00, 2).
const figetbsz = 2

// TestRecordHost records real operations on a regular file (the FIGETBSZ
// ioctl works on any file without privileges), saves them, and plays the
// same sequence back.
func TestRecordHost(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev")
	if err := os.WriteFile(path, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(o Opener) error {
		d, err := o.Open(path, os.O_RDWR)
		if err != nil {
			return err
		}
		if _, err := d.Write([]byte("HE")); err != nil {
			return err
		}
		b := make([]byte, 8)
		if n, err := d.Read(b); err != nil || string(b[:n]) != "llo" {
			t.Errorf("Read = %q, %v", b[:n], err)
		}
		arg := make([]byte, 4)
		if err := d.Ioctl(figetbsz, arg); err != nil {
			return err
		}
		if arg[0] == 0 && arg[1] == 0 {
			t.Errorf("FIGETBSZ returned %x", arg)
		}
		if _, err := o.Open(path+".missing", os.O_RDONLY); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Open of a missing file = %v", err)
		}
		return d.Close()
	}
	r := &Record{Opener: Host{}}
	if err := run(r); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "rec.json")
	if err := r.Save(file, "test"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := run(p); err != nil {
		t.Fatal(err)
	}
	if err := p.Done(); err != nil {
		t.Fatal(err)
	}
	if got := len(p.Ops); got != 6 {
		t.Errorf("recorded %d operations, want 6", got)
	}
}
