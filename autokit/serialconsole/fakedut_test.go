package serialconsole

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// fakeDUT is the board's end of a serial line: a pty whose slave is
// reached through a stable symlink (as /dev/serial/by-id links to
// /dev/ttyUSBn), and a shell on the master that echoes each typed line as a
// terminal would, runs it with sh -c, prints its output with "\r\n" line
// ends and a "# " prompt. Ctrl-C kills the running command. Unplug closes
// the pty and removes the link; Plug makes a new pty behind the same link.
type fakeDUT struct {
	t    *testing.T
	link string

	mu     sync.Mutex
	master *os.File
	slave  *os.File
	wg     sync.WaitGroup
}

func newFakeDUT(t *testing.T) *fakeDUT {
	t.Helper()
	d := &fakeDUT{t: t, link: filepath.Join(t.TempDir(), "usb-FTDI_FT232R_USB_UART_A12345-if00-port0")}
	d.Plug()
	t.Cleanup(d.Unplug)
	return d
}

// Plug creates a new pty and points the link at it.
func (d *fakeDUT) Plug() {
	d.t.Helper()
	ptmx, slave, err := pty.Open()
	if err != nil {
		d.t.Skipf("no pty available: %v", err)
	}
	// A blocking descriptor cannot be closed under a pending read; a
	// non-blocking one goes through Go's poller, so Unplug can close it
	// while the shell reads, and the driver sees the hangup.
	fd, err := unix.Dup(int(ptmx.Fd()))
	if err != nil {
		d.t.Fatal(err)
	}
	ptmx.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		d.t.Fatal(err)
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	tmp := d.link + ".new"
	os.Remove(tmp)
	if err := os.Symlink(slave.Name(), tmp); err != nil {
		d.t.Fatal(err)
	}
	if err := os.Rename(tmp, d.link); err != nil {
		d.t.Fatal(err)
	}
	d.mu.Lock()
	d.master, d.slave = master, slave
	d.mu.Unlock()
	d.wg.Add(1)
	go d.shell(master)
}

// Unplug closes the pty, as pulling the adapter does, and removes the link.
func (d *fakeDUT) Unplug() {
	d.mu.Lock()
	m, s := d.master, d.slave
	d.master, d.slave = nil, nil
	d.mu.Unlock()
	os.Remove(d.link)
	if m != nil {
		m.Close()
		s.Close()
	}
	d.wg.Wait()
}

// Say prints s on the console, as the board's firmware or kernel would.
func (d *fakeDUT) Say(s string) {
	d.t.Helper()
	d.mu.Lock()
	m := d.master
	d.mu.Unlock()
	if _, err := m.Write([]byte(s)); err != nil {
		d.t.Fatal(err)
	}
}

func (d *fakeDUT) shell(m *os.File) {
	defer d.wg.Done()
	lines := make(chan string, 16)
	var (
		mu     sync.Mutex
		cancel context.CancelFunc = func() {}
	)
	go func() {
		defer close(lines)
		r := bufio.NewReader(m)
		var line []byte
		for {
			b, err := r.ReadByte()
			if err != nil {
				return
			}
			switch b {
			case 0x03:
				m.Write([]byte("^C\r\n"))
				mu.Lock()
				cancel()
				mu.Unlock()
				line = line[:0]
			case '\n':
				m.Write(append(line, '\r', '\n')) // the terminal's echo
				lines <- string(line)
				line = line[:0]
			default:
				line = append(line, b)
			}
		}
	}()
	for line := range lines {
		ctx, c := context.WithCancel(context.Background())
		mu.Lock()
		cancel = c
		mu.Unlock()
		cmd := exec.CommandContext(ctx, "sh", "-c", line)
		cmd.WaitDelay = 100 * time.Millisecond // do not wait for a killed command's children
		out, _ := cmd.CombinedOutput()
		c()
		out = bytes.ReplaceAll(out, []byte("\n"), []byte("\r\n"))
		m.Write(append(out, []byte("# ")...))
	}
}

// slaveFD is the current pty slave, for reading back its termios.
func (d *fakeDUT) slaveFD() *os.File {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.slave
}

func lines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }
