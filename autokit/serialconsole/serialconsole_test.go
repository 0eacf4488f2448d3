package serialconsole

import (
	"context"
	"io"
	"regexp"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/balena/leviathan-action/autokit/dut"
)

// TestPtyRoundTrip drives the real serial code over a pty pair, the way a
// QEMU DUT's console is wired.
func TestPtyRoundTrip(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pty available: %v", err)
	}
	defer master.Close()
	name := slave.Name()
	slave.Close()

	var c dut.Capture
	p, err := Open(name, 115200, &c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	if _, err := master.Write([]byte("U-Boot banner\r\nlogin: ")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Expect(ctx, 0, regexp.MustCompile(`login: `)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write([]byte("root\n")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(master, got); err != nil || string(got) != "root\n" {
		t.Fatalf("DUT side read %q, %v", got, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Err(); err != nil {
		t.Fatalf("reader ended with %v after Close", err)
	}
}

func TestOpenMissingDevice(t *testing.T) {
	var c dut.Capture
	_, err := Open("/dev/does-not-exist-ttyUSB9", 0, &c)
	if err == nil || !regexp.MustCompile(`serialconsole: opening /dev/does-not-exist-ttyUSB9`).MatchString(err.Error()) {
		t.Fatalf("err = %v", err)
	}
}
