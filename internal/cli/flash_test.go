package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// testDiskImage writes a small sparse disk image (MBR signature, a few
// data blocks) and returns its path and bytes.
func testDiskImage(t *testing.T) (string, []byte) {
	t.Helper()
	img := make([]byte, 8<<20)
	img[510], img[511] = 0x55, 0xaa
	for i := 3 << 20; i < 3<<20+100000; i++ {
		img[i] = byte(i*31 + 7)
	}
	p := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, img
}

func TestFlashCommand(t *testing.T) {
	img, raw := testDiskImage(t)
	var zs bytes.Buffer
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(raw)
	zw.Close()
	zst := img + ".zst"
	os.WriteFile(zst, zs.Bytes(), 0o644)
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(img))))
	defer srv.Close()
	target := filepath.Join(t.TempDir(), "target.img")
	ctx := context.Background()

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"raw file", []string{"--image", img}, "verified"},
		{"zstd over http", []string{"--image", srv.URL + "/disk.img.zst"}, "(zstd, 8388608 bytes)"},
		{"delta re-flash", []string{"--image", img, "--delta"}, "0 bytes written"},
		{"no verify", []string{"--image", img, "--no-verify"}, "not verified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, _ := runCLI(t, ctx, append([]string{"flash", "-q", "--target", target}, tc.args...)...)
			if code != 0 || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want 0 and %q", code, tc.want)
			}
			if got, _ := os.ReadFile(target); !bytes.Equal(got, raw) {
				t.Fatal("the target differs from the image")
			}
		})
	}

	if _, err := exec.LookPath("bmaptool"); err == nil {
		bm := filepath.Join(t.TempDir(), "disk.bmap")
		out, err := exec.Command("bmaptool", "create", "-o", bm, img).CombinedOutput()
		if err != nil {
			t.Fatalf("bmaptool create: %v\n%s", err, out)
		}
		code, stdout, _ := runCLI(t, ctx, "flash", "-q", "--target", target, "--image", zst, "--bmap", bm)
		if code != 0 || !strings.Contains(stdout, "unmapped") {
			t.Fatalf("bmap flash: exit %d", code)
		}
	} else {
		t.Log("bmaptool not installed (apt-get install bmap-tools): the --bmap case is skipped")
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing image", []string{"--image", filepath.Join(t.TempDir(), "nope.img"), "--target", target}, "no such file"},
		{"http 404", []string{"--image", srv.URL + "/nope.img", "--target", target}, "404"},
		{"target is a directory", []string{"--image", img, "--target", t.TempDir()}, "is a directory"},
		{"bad bmap", []string{"--image", img, "--target", target, "--bmap", img}, "bmap"},
		{"wrong sha256", []string{"--image", img, "--target", target, "--sha256", strings.Repeat("ab", 32)}, "checksum mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, ctx, append([]string{"flash", "-q"}, tc.args...)...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d; want non-zero and %q in stderr", code, tc.want)
			}
		})
	}
}
