package consoletest_test

import (
	"os"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/serialconsole"
	"github.com/balena/leviathan-action/autokit/serialconsole/consoletest"
)

// ptyPair returns the master side of a new pty, which plays the DUT's end
// of the line, and the slave's path, which the driver opens as a
// USB-serial adapter. The master is non-blocking, so closing it at the end
// of the test stops the suite's reader.
func ptyPair(t *testing.T) (*os.File, string) {
	t.Helper()
	ptmx, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pty available: %v", err)
	}
	fd, err := unix.Dup(int(ptmx.Fd()))
	ptmx.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	t.Cleanup(func() {
		master.Close()
		slave.Close()
	})
	return master, slave.Name()
}

// TestPortOpen runs the suite against a port opened once (QemuKit's way).
func TestPortOpen(t *testing.T) {
	master, name := ptyPair(t)
	var c dut.Capture
	p, err := serialconsole.Open(name, 115200, &c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	consoletest.Conformance(t, p, master)
}

// TestPortConnect runs the suite against a reconnecting port (a testbot's
// adapter).
func TestPortConnect(t *testing.T) {
	master, name := ptyPair(t)
	var c dut.Capture
	p, err := serialconsole.Connect(serialconsole.Config{Device: name}, &c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	consoletest.Conformance(t, p, master)
}
