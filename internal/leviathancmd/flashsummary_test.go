package leviathancmd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/image"
)

// The summary line says how the flash was checked, truthfully for each
// way image.Flash writes.
func TestFlashSummaryLine(t *testing.T) {
	const sum = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
	base := image.Result{Format: image.Raw, ImageBytes: 8 << 20, Written: 1 << 20, Duration: 2 * time.Second, VerifyDuration: 100 * time.Millisecond}
	with := func(sha string, verified bool) image.Result {
		r := base
		r.SHA256, r.Verified = sha, verified
		return r
	}
	compared := func() image.Result {
		r := with("", true)
		r.Compared = true
		return r
	}
	const head = "wrote disk.img (raw, 8388608 bytes) to target.img in 2.0s (4 MB/s): 1048576 bytes written, 0 zeros skipped, 0 unchanged, 0 unmapped; "
	for _, tc := range []struct {
		name  string
		flags flashFlags
		res   image.Result
		want  string
	}{
		{"stream", flashFlags{}, with("", true),
			"verified in 0.1s (read back, checked against a keyed hash of each 64 KiB recorded while writing); sha256 not computed (--sha256 has it computed and checked)"},
		{"stream with its digest", flashFlags{}, with(sum, true),
			"verified in 0.1s (read back, checked against a keyed hash of each 64 KiB recorded while writing); sha256 " + sum},
		{"stream with --sha256", flashFlags{sum: sum}, with(sum, true),
			"verified in 0.1s (read back, checked against a keyed hash of each 64 KiB recorded while writing); sha256 " + sum + " (as --sha256 expected)"},
		{"raw file by extents or delta", flashFlags{}, compared(),
			"verified in 0.1s (read back and compared with the image file); sha256 not computed (the image file was compared directly; --sha256 has it hashed)"},
		{"--bmap, raw image file", flashFlags{bmapPath: "disk.bmap"}, compared(),
			"verified in 0.1s (mapped blocks read back and compared with the image file; they matched the block map's checksums as written); sha256 not computed (the image file was compared directly; --sha256 has it hashed)"},
		{"--bmap, compressed stream", flashFlags{bmapPath: "disk.bmap"}, with("", true),
			"verified in 0.1s (mapped blocks read back, checked by the block map's checksums); sha256 not computed (--sha256 has it computed and checked)"},
		{"--no-verify", flashFlags{noVerify: true}, with("", false),
			"not verified (--no-verify); sha256 not computed (--sha256 has it computed and checked)"},
		{"--no-verify with --sha256", flashFlags{noVerify: true, sum: sum}, with(sum, false),
			"not verified (--no-verify); sha256 " + sum + " (as --sha256 expected)"},
		{"--no-verify with --bmap", flashFlags{noVerify: true, bmapPath: "disk.bmap"}, with("", false),
			"not read back (--no-verify); the written blocks matched the block map's checksums; sha256 not computed (--sha256 has it computed and checked)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.flags
			f.src, f.target = "disk.img", "target.img"
			var b bytes.Buffer
			printFlashed(&b, &f, tc.res, nil, nil)
			if got, want := b.String(), head+tc.want+"\n"; got != want {
				t.Errorf("summary\n got %q\nwant %q", got, want)
			}
		})
	}
}

// fsImage writes an image without a partition table (an ext4
// filesystem's superblock magic at 1080, data after it).
func fsImage(t *testing.T) (string, []byte) {
	t.Helper()
	img := make([]byte, 4<<20)
	img[1080], img[1081] = 0x53, 0xef
	for i := 1 << 20; i < 1<<20+50000; i++ {
		img[i] = byte(i*13 + 5)
	}
	p := filepath.Join(t.TempDir(), "rootfs.ext4")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, img
}

// TestFlashAnyImage: an image without a partition table is refused, the
// error naming --any-image, and written with it.
func TestFlashAnyImage(t *testing.T) {
	img, raw := fsImage(t)
	ctx := context.Background()
	target := filepath.Join(t.TempDir(), "target.img")
	os.WriteFile(target, []byte("untouched"), 0o644)

	code, _, errOut := runCLI(t, ctx, "flash", "-q", "--image", img, "--target", target)
	if code == 0 || !strings.Contains(errOut, "not a disk image") || !strings.Contains(errOut, "pass --any-image") {
		t.Fatalf("exit %d; want a refusal naming --any-image", code)
	}
	if got, _ := os.ReadFile(target); string(got) != "untouched" && len(got) != 0 {
		t.Errorf("the refused flash wrote %d bytes to the target", len(got))
	}

	args := [][]string{{"--image", img}, {"--image", img, "--delta"}, {"--image", img, "--no-verify"}}
	names := []string{"raw file", "delta", "no verify", "bmap"}
	if _, err := exec.LookPath("bmaptool"); err == nil {
		bm := filepath.Join(t.TempDir(), "rootfs.bmap")
		if out, err := exec.Command("bmaptool", "create", "-o", bm, img).CombinedOutput(); err != nil {
			t.Fatalf("bmaptool create: %v\n%s", err, out)
		}
		args = append(args, []string{"--image", img, "--bmap", bm})
	} else {
		t.Log("bmaptool not installed (apt-get install bmap-tools): the --bmap case is skipped")
	}
	for i, a := range args {
		t.Run(names[i], func(t *testing.T) {
			code, out, _ := runCLI(t, ctx, append([]string{"flash", "-q", "--any-image", "--target", target}, a...)...)
			if code != 0 || !strings.Contains(out, "wrote "+img) {
				t.Fatalf("exit %d", code)
			}
			got, _ := os.ReadFile(target)
			if len(a) > 2 && a[2] == "--bmap" {
				got = got[:min(len(got), len(raw))] // the unmapped blocks are not written
				if !bytes.Equal(got[1<<20:1<<20+50000], raw[1<<20:1<<20+50000]) {
					t.Fatal("the mapped data differs from the image")
				}
				if !strings.Contains(out, "block map's checksums") || strings.Contains(out, "--no-verify") {
					t.Errorf("the summary misnames the checks: %s", out)
				}
				return
			}
			if !bytes.Equal(got, raw) {
				t.Fatal("the target differs from the image")
			}
		})
	}

	code, out, errOut := runCLI(t, ctx, "flash", "-h")
	if code != 0 || !strings.Contains(out+errOut, "-any-image") || !strings.Contains(out+errOut, "unless --any-image is given") {
		t.Errorf("flash -h: exit %d, no --any-image in the help", code)
	}
}
