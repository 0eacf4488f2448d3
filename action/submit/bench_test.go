package submit_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/balena/leviathan-action/internal/benchrow"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/action/artifact/artifacttest"
	"github.com/balena/leviathan-action/action/submit"
)

// benchImage returns the repository's test OS image when `make testimage`
// built it, else a synthesised 256 MiB sparse-ish raw image: per 4 MiB,
// 1 MiB of noise, 512 KiB of text and zeros.
func benchImage(b *testing.B) string {
	if _, file, _, ok := runtime.Caller(0); ok {
		p := filepath.Join(filepath.Dir(file), "..", "..", "build", "testimage", "leviathan-testos.img")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	const size = 256 << 20
	img := rawImage(4 << 20)
	img = append(img, make([]byte, size-len(img))...)
	r := rand.NewChaCha8([32]byte{3})
	for off := 4 << 20; off < size; off += 4 << 20 {
		r.Read(img[off : off+1<<20])
		for i := off + 1<<20; i < off+1<<20+512<<10; i += 64 {
			copy(img[i:], "systemd[1]: Started leviathan test unit number 0042.\n")
		}
	}
	p := filepath.Join(b.TempDir(), "synthetic.img")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkUpload submits an image (zstd on the fly, streamed) and, side by
// side, what the existing Node kit does: `gzip -6` to a file, then upload
// that file. MB/s count uncompressed image bytes over wall time; speedup is
// the gzip path's time over ours. Run it once: -benchtime=1x.
func BenchmarkUpload(b *testing.B) {
	srv := artifacttest.Start(b)
	path := benchImage(b)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	gzipCmd, gzErr := exec.LookPath("gzip")
	c, err := artifact.New(srv.Config())
	if err != nil {
		b.Fatal(err)
	}
	size := float64(fi.Size())
	var zt, gt time.Duration
	var zr, gr float64
	i := 0
	for b.Loop() {
		i++
		start := time.Now()
		res, err := submit.Submit(b.Context(), c, path, submit.Options{ArtifactName: fmt.Sprintf("zstd-%d", i)})
		if err != nil {
			b.Fatal(err)
		}
		zt += time.Since(start)
		zr = res.Ratio()

		if gzErr != nil {
			continue
		}
		start = time.Now()
		gz := filepath.Join(b.TempDir(), "image.img.gz")
		out, err := os.Create(gz)
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(gzipCmd, "-6", "-c", path)
		cmd.Stdout = out
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s: %v", cmd, err)
		}
		if _, err := out.Seek(0, 0); err != nil {
			b.Fatal(err)
		}
		gi, _ := out.Stat()
		if _, err := c.Upload(b.Context(), fmt.Sprintf("gzip-%d", i), artifact.File{Name: "image.img.gz", Reader: out}); err != nil {
			b.Fatal(err)
		}
		out.Close()
		gt += time.Since(start)
		gr = size / float64(gi.Size())
	}
	n := float64(i)
	b.ReportMetric(size/1e6/(zt.Seconds()/n), "zstd-MB/s")
	b.ReportMetric(zr, "zstd-ratio")
	if gzErr != nil {
		b.Logf("no gzip command, no comparison: %v", gzErr)
		return
	}
	b.ReportMetric(size/1e6/(gt.Seconds()/n), "gzip6-MB/s")
	b.ReportMetric(gr, "gzip6-ratio")
	b.ReportMetric(gt.Seconds()/zt.Seconds(), "speedup")
	benchrow.Record(benchrow.Row{What: "artifact upload of an image", Leviathan: fmt.Sprintf("zstd while uploading %.1f MB/s", size/1e6/(zt.Seconds()/n)),
		Baseline: fmt.Sprintf("gzip -6 then upload %.1f MB/s", size/1e6/(gt.Seconds()/n)), Result: fmt.Sprintf("%.2f× faster", gt.Seconds()/zt.Seconds())})
	b.Logf("image %s, %.0f MiB: zstd+upload %.1f MB/s ratio %.2f; gzip -6 + upload %.1f MB/s ratio %.2f; %.2fx faster",
		filepath.Base(path), size/(1<<20), size/1e6/(zt.Seconds()/n), zr, size/1e6/(gt.Seconds()/n), gr, gt.Seconds()/zt.Seconds())
}
