package blockdev

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/sdmux"
	"github.com/balena/leviathan-action/autokit/sdmux/sdmuxtest"
)

func TestRegularFile(t *testing.T) {
	node := filepath.Join(t.TempDir(), "card")
	if err := os.WriteFile(node, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	sdmuxtest.Conformance(t, New(Config{Device: node, Timeout: time.Second}, nil))
}

func TestMissing(t *testing.T) {
	node := filepath.Join(t.TempDir(), "usb-Generic_Card_Reader-0:0")
	_, err := New(Config{Device: node, Timeout: 100 * time.Millisecond}, nil).Open(t.Context())
	if err == nil || !strings.Contains(err.Error(), "blockdev: "+node+" did not appear within 100ms") || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("Open = %v", err)
	}
}

func TestNotPermitted(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root bypasses file permissions")
	}
	node := filepath.Join(t.TempDir(), "card")
	if err := os.WriteFile(node, make([]byte, 4096), 0o400); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{Device: node, Timeout: time.Second}, nil).Open(t.Context())
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), node) {
		t.Fatalf("Open = %v", err)
	}
}

// TestLoopDevice runs the suite against a real block device: a loop device
// over a 4 MiB file. It needs root and losetup.
func TestLoopDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("attaching a loop device needs root")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("losetup is not installed (util-linux)")
	}
	img := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(img, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).CombinedOutput()
	if err != nil {
		t.Skipf("losetup cannot attach a loop device here: %v: %s", err, out)
	}
	loop := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "--detach", loop).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v: %s", loop, err, out)
		}
	})
	s := New(Config{Device: loop, Timeout: time.Second}, nil)
	sdmuxtest.Conformance(t, s)
	tg, err := s.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if c := tg.(*sdmux.Target).Capacity(); c != 4<<20 {
		t.Errorf("Capacity of %s = %d, want %d (BLKGETSIZE64)", loop, c, 4<<20)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string // "" when valid
	}{
		{Config{Device: "/dev/disk/by-id/x", Timeout: time.Second}, ""},
		{Config{Timeout: time.Second}, "SD_MUX_DEVICE"},
		{Config{Device: "/dev/disk/by-id/x"}, "SD_MUX_TIMEOUT"},
	} {
		err := tc.c.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.c, err, tc.want)
		}
	}
}
