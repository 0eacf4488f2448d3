package leviathancmd

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"github.com/balena/leviathan-action/autokit/bootpart"
	"github.com/balena/leviathan-action/autokit/duttest"
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

// TestFlashCommandChecksums: --precheck refuses before the target is
// opened; --image-sha256 checks the download.
func TestFlashCommandChecksums(t *testing.T) {
	img, raw := testDiskImage(t)
	var zs bytes.Buffer
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(raw)
	zw.Close()
	dir := filepath.Dir(img)
	os.WriteFile(filepath.Join(dir, "disk.img.zst"), zs.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "disk.img.zst.sha256"), []byte(sha256Hex(zs.Bytes())+"  disk.img.zst\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.img.zst"), zs.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.img.zst.sha256"), []byte(strings.Repeat("cd", 32)+"\n"), 0o644)
	var zipped bytes.Buffer
	zipw := zip.NewWriter(&zipped)
	w, _ := zipw.Create("balena/disk.img.zst")
	w.Write(zs.Bytes())
	zipw.Close()
	os.WriteFile(filepath.Join(dir, "disk.zip"), zipped.Bytes(), 0o644)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	ctx := context.Background()
	zst := filepath.Join(dir, "disk.img.zst")
	right, wrong := sha256Hex(raw), strings.Repeat("ab", 32)

	target := filepath.Join(t.TempDir(), "target.img")
	keep := []byte("the target's earlier contents")
	os.WriteFile(target, keep, 0o644)
	code, _, errOut := runCLI(t, ctx, "flash", "-q", "--image", zst, "--target", target, "--sha256", wrong, "--precheck")
	if code == 0 || !strings.Contains(errOut, "refused before writing") || !strings.Contains(errOut, "checksum mismatch") {
		t.Fatalf("precheck of a wrong sha256: exit %d", code)
	}
	if got, _ := os.ReadFile(target); !bytes.Equal(got, keep) {
		t.Fatal("--precheck touched the target")
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"precheck", []string{"--image", zst, "--sha256", right, "--precheck"}, "(zstd, 8388608 bytes)"},
		{"zip of a zstd image", []string{"--image", filepath.Join(dir, "disk.zip")}, "(zip+zstd, 8388608 bytes)"},
		{"published sha256", []string{"--image", srv.URL + "/disk.img.zst", "--image-sha256", "published"}, "verified"},
		{"download sha256", []string{"--image", srv.URL + "/disk.img.zst", "--image-sha256", sha256Hex(zs.Bytes())}, "verified"},
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
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"published sha256 mismatch", []string{"--image", srv.URL + "/bad.img.zst", "--image-sha256", "published"}, []string{"checksum mismatch for the download", "marked dirty"}},
		{"no published sha256", []string{"--image", srv.URL + "/disk.zip", "--image-sha256", "published"}, []string{"404"}},
		{"published needs a URL", []string{"--image", zst, "--image-sha256", "published"}, []string{"needs an http(s) URL"}},
		{"precheck needs a local file", []string{"--image", srv.URL + "/disk.img.zst", "--sha256", right, "--precheck"}, []string{"--precheck needs"}},
		{"precheck needs --sha256", []string{"--image", zst, "--precheck"}, []string{"--precheck needs"}},
		{"bad hex", []string{"--image", zst, "--sha256", "xyz"}, []string{"not a hex SHA-256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, ctx, append([]string{"flash", "-q", "--target", target}, tc.args...)...)
			if code == 0 {
				t.Fatal("exit 0")
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not say %q", w)
				}
			}
		})
	}
}

// TestFlashCommandTargetFaults: a missing or read-only target is named in
// the error and nothing is reported as written.
func TestFlashCommandTargetFaults(t *testing.T) {
	img, _ := testDiskImage(t)
	ctx := context.Background()
	missingDir := filepath.Join(t.TempDir(), "no", "such", "dir", "target.img")
	for _, tc := range []struct {
		name, target string
		want         []string
	}{
		{"missing directory", missingDir, []string{missingDir, "no such file or directory"}},
		{"missing device", "/dev/leviathan-no-such-device", []string{"/dev/leviathan-no-such-device does not exist", "plugged in"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, ctx, "flash", "-q", "--image", img, "--target", tc.target)
			if code == 0 || strings.Contains(out, "wrote") {
				t.Fatalf("exit %d", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not say %q", w)
				}
			}
			if _, err := os.Stat(tc.target); err == nil {
				t.Error("the missing target was created")
			}
		})
	}
	t.Run("read-only file", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("running as root, which writes to a 0444 file anyway; package image tests a target opened read-only")
		}
		target := filepath.Join(t.TempDir(), "ro.img")
		os.WriteFile(target, []byte("keep"), 0o444)
		code, _, errOut := runCLI(t, ctx, "flash", "-q", "--image", img, "--target", target)
		if code == 0 || !strings.Contains(errOut, "target "+target+" is not writable") {
			t.Fatalf("exit %d", code)
		}
	})
}

func TestProgressText(t *testing.T) {
	if got := progressText(50e6, 150e6, 10e6); got != "flashing 10.0 MB/s, ETA 10s" {
		t.Errorf("progressText = %q", got)
	}
	if got := progressText(50e6, -1, 10e6); got != "flashing 10.0 MB/s" {
		t.Errorf("progressText without a total = %q", got)
	}
}

func sha256Hex(p []byte) string {
	s := sha256.Sum256(p)
	return hex.EncodeToString(s[:])
}

func TestFlashCommandInjectsFiles(t *testing.T) {
	disk := duttest.FATDisk(t, true)
	noFAT := duttest.FATDisk(t, false)
	orig, err := os.ReadFile(disk.Name())
	if err != nil {
		t.Fatal(err)
	}
	boot, err := bootpart.Find(disk)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var zs bytes.Buffer
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(orig)
	zw.Close()
	zst := filepath.Join(dir, "disk.img.zst")
	os.WriteFile(zst, zs.Bytes(), 0o644)
	os.WriteFile(zst+".sha256", []byte(sha256Hex(zs.Bytes())+"  disk.img.zst\n"), 0o644)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(`{"hostname":"rpi4-01"}`), 0o644)
	big := filepath.Join(dir, "big.bin")
	os.WriteFile(big, make([]byte, 50<<20), 0o644)
	ctx := context.Background()

	// checkTarget: the files are in the target's boot partition, and
	// every byte outside it is the image's.
	checkTarget := func(t *testing.T, target string) {
		t.Helper()
		got, err := os.ReadFile(target)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(orig) || !bytes.Equal(got[:boot.Start], orig[:boot.Start]) || !bytes.Equal(got[boot.Start+boot.Size:], orig[boot.Start+boot.Size:]) {
			t.Error("the target differs from the image outside the boot partition")
		}
		f, err := os.Open(target)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if got, err := bootpart.ReadFile(f, "config.json"); err != nil || string(got) != `{"hostname":"rpi4-01"}` {
			t.Errorf("config.json in the flashed image = %q, %v", got, err)
		}
		if got, err := bootpart.ReadFile(f, "extra/notes.txt"); err != nil || string(got) != `{"hostname":"rpi4-01"}` {
			t.Errorf("extra/notes.txt in the flashed image = %q, %v", got, err)
		}
	}
	files := []string{"--file", "config.json=" + cfg, "--file", "extra/notes.txt=" + cfg}
	target := filepath.Join(dir, "target.img")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"raw file", []string{"--image", disk.Name()}, []string{
			"wrote config.json (22 bytes) into the boot partition (partition 1, fat32) as part of the image",
			"verified", "image sha256 " + sha256Hex(orig) + ", as written sha256 "}},
		{"delta re-flash", []string{"--image", disk.Name(), "--delta"}, []string{"unchanged", "verified"}},
		{"zstd with --sha256 of the image", []string{"--image", zst, "--sha256", sha256Hex(orig)}, []string{"(zstd, 50331648 bytes)", "verified"}},
		{"published download sha256", []string{"--image", srv.URL + "/disk.img.zst", "--image-sha256", "published"}, []string{"(zstd, 50331648 bytes)", "verified"}},
		{"precheck", []string{"--image", zst, "--sha256", sha256Hex(orig), "--precheck"}, []string{"verified"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, _ := runCLI(t, ctx, append(append([]string{"flash", "-q", "--target", target}, tc.args...), files...)...)
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("stdout does not say %q", w)
				}
			}
			if strings.Contains(out, "as written sha256 not computed") {
				t.Errorf("the configured image's digest was not computed: %s", out)
			}
			checkTarget(t, target)
		})
	}

	// Refused before the target is opened: it is not even created.
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not NAME=PATH", []string{"--image", disk.Name(), "--file", "config.json"}, "want NAME=PATH"},
		{"missing file", []string{"--image", disk.Name(), "--file", "config.json=" + filepath.Join(dir, "nope.json")}, "nope.json"},
		{"image without a FAT partition", []string{"--image", noFAT.Name(), "--file", "config.json=" + cfg}, "no FAT boot partition"},
		{"file too large", []string{"--image", disk.Name(), "--file", "big.bin=" + big}, "no room in the boot partition"},
		{"partition over --file-buffer", []string{"--image", zst, "--file-buffer", "16", "--file", "config.json=" + cfg}, "more than the limit of 16.0 MiB; raise the limit (--file-buffer 16)"},
		{"with --bmap", []string{"--image", disk.Name(), "--bmap", cfg, "--file", "config.json=" + cfg}, "--bmap cannot be combined with --file"},
		{"bad --file-buffer", []string{"--image", disk.Name(), "--file-buffer", "0", "--file", "config.json=" + cfg}, "--file-buffer must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tgt := filepath.Join(t.TempDir(), "t.img")
			code, out, errs := runCLI(t, ctx, append([]string{"flash", "-q", "--target", tgt}, tc.args...)...)
			if code == 0 || !strings.Contains(errs, tc.want) || strings.Contains(out, "wrote") {
				t.Fatalf("exit %d, stderr %q; want a failure naming %q and no success line", code, errs, tc.want)
			}
			if _, err := os.Stat(tgt); err == nil {
				t.Error("the target was created")
			}
		})
	}

	// A wrong --sha256 shows once the image streamed past: the flash
	// fails and the target is marked dirty.
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"wrong sha256", []string{"--image", zst, "--sha256", strings.Repeat("ab", 32)}, []string{"checksum mismatch for the image (before the --file files were written into it)", "marked dirty"}},
		{"wrong download sha256", []string{"--image", zst, "--image-sha256", strings.Repeat("cd", 32)}, []string{"checksum mismatch for the download", "marked dirty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tgt := filepath.Join(t.TempDir(), "t.img")
			code, out, errs := runCLI(t, ctx, append(append([]string{"flash", "-q", "--target", tgt}, tc.args...), files...)...)
			if code == 0 || strings.Contains(out, "wrote") {
				t.Fatalf("exit %d", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr does not say %q", w)
				}
			}
			if f, err := os.Open(tgt); err == nil {
				defer f.Close()
				if _, err := bootpart.Find(f); err == nil {
					t.Error("the failed target still has a partition table")
				}
			}
		})
	}
}
