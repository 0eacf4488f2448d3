// Command flash measures `leviathan flash` against the tools a user would
// otherwise pick, in one run, and prints ratios:
//
//   - vs `bmaptool copy` (same bmap) on a ~2 GiB sparse image, raw and
//     compressed (gz, zst, xz);
//   - vs `dd bs=4M conv=fsync` on the raw sparse image;
//   - a delta re-flash of an unchanged image vs a full flash;
//   - a dense image's MB/s as a fraction of the target's raw sequential
//     write speed (dd from /dev/zero), the physical limit.
//
// Targets are files on the build directory's filesystem. It is a
// benchmark: it prints figures and fails only when it cannot measure.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/balena/leviathan-action/qemukit/testimage"
)

func main() {
	build := flag.String("build-dir", "build", "build outputs and caches")
	size := flag.Int64("size-mib", 2048, "sparse image size in MiB")
	runs := flag.Int("runs", 5, "timed rounds per format, the tools taking turns in each (medians)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *build, *size<<20, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench-flash:", err)
		os.Exit(1)
	}
}

// run builds the CLI and the images, then measures flashing against
// bmaptool and dd, a delta re-flash and the dense write speed, printing
// each table as it is measured.
func run(ctx context.Context, build string, size int64, runs int) error {
	for _, tool := range []string{"bmaptool", "dd", "xz"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is needed as a baseline: apt-get install bmap-tools coreutils xz-utils", tool)
		}
	}
	dir := filepath.Join(build, "bench-flash")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b := &bench{
		cli:    filepath.Join(build, "bin", "leviathan"),
		dir:    dir,
		target: filepath.Join(dir, "target"),
		runs:   runs,
	}
	defer os.RemoveAll(b.target)
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", b.cli, "./cmd/leviathan").CombinedOutput(); err != nil {
		return fmt.Errorf("building the CLI: %v\n%s", err, out)
	}
	images, bm, err := makeImages(ctx, build, dir, size)
	if err != nil {
		return err
	}
	if err := b.compareTools(ctx, images, bm); err != nil {
		return err
	}
	if err := b.deltaReflash(ctx, images["raw"]); err != nil {
		return err
	}
	return b.denseLimit(ctx)
}

// makeImages makes, in dir, the sparse image of size bytes (from the
// test OS image, built under build), its block map and its compressed
// copies. It returns the images by format ("raw", "gz", "zst", "xz") and
// the block map's path.
func makeImages(ctx context.Context, build, dir string, size int64) (map[string]string, string, error) {
	m, err := testimage.Build(ctx, testimage.Options{CacheDir: filepath.Join(build, "cache", "debs"), OutDir: filepath.Join(build, "testimage")})
	if err != nil {
		return nil, "", err
	}
	raw := filepath.Join(dir, "sparse.img")
	fmt.Printf("making a %d MiB image: the test OS image plus random extents to about 25%% data…\n", size>>20)
	if err := makeSparse(m.Image, raw, size); err != nil {
		return nil, "", err
	}
	bm := raw + ".bmap"
	if out, err := exec.CommandContext(ctx, "bmaptool", "create", "-o", bm, raw).CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("bmaptool create: %v\n%s", err, out)
	}
	images := map[string]string{"raw": raw}
	for _, f := range []string{"gz", "zst", "xz"} {
		p := raw + "." + f
		if err := compress(ctx, f, raw, p); err != nil {
			return nil, "", err
		}
		images[f] = p
	}
	return images, bm, nil
}

// bench is what the measurements share: the CLI measured, the working
// directory, the target file every tool writes and the rounds per figure.
type bench struct {
	cli    string
	dir    string
	target string
	runs   int
}

// once times one run of a tool onto an absent target, from an empty page
// cache when allowed.
func (b *bench) once(ctx context.Context, name string, args ...string) (time.Duration, error) {
	os.Remove(b.target)
	dropCaches()
	return timeOnce(ctx, name, args...)
}

// compareTools prints, per format, leviathan's flash time against
// bmaptool's with the same block map and, for the raw image, dd's.
//
// The tools take turns within each round, so a slow spell of the
// machine's disk hits every tool of that round alike; the ratios are the
// medians of the per-round ratios.
func (b *bench) compareTools(ctx context.Context, images map[string]string, bm string) error {
	fmt.Printf("\n%-8s %14s %14s %10s %12s %10s\n", "format", "leviathan", "bmaptool", "ratio", "dd bs=4M", "dd/lev")
	for _, f := range []string{"raw", "gz", "zst", "xz"} {
		var levs, bts, dds []time.Duration
		var ratios, ddRatios []float64
		for range b.runs {
			lev, err := b.once(ctx, b.cli, "flash", "-q", "--image", images[f], "--target", b.target, "--bmap", bm)
			if err != nil {
				return err
			}
			bt, err := b.once(ctx, "bmaptool", "-q", "copy", "--bmap", bm, images[f], b.target)
			if err != nil {
				return err
			}
			levs, bts = append(levs, lev), append(bts, bt)
			ratios = append(ratios, lev.Seconds()/bt.Seconds())
			if f == "raw" {
				dd, err := b.once(ctx, "dd", "if="+images["raw"], "of="+b.target, "bs=4M", "conv=fsync", "status=none")
				if err != nil {
					return err
				}
				dds = append(dds, dd)
				ddRatios = append(ddRatios, dd.Seconds()/lev.Seconds())
			}
		}
		ddCol, ddRatio := "", ""
		if f == "raw" {
			ddCol, ddRatio = fmt.Sprintf("%.2fs", median(dds).Seconds()), fmt.Sprintf("%.1f×", medianOf(ddRatios))
		}
		fmt.Printf("%-8s %13.2fs %13.2fs %9.2f× %12s %10s\n", f, median(levs).Seconds(), median(bts).Seconds(), medianOf(ratios), ddCol, ddRatio)
	}
	fmt.Printf("  (times: medians of %d rounds; ratio = leviathan time / bmaptool time, target ≤ 1.0; dd/lev = how many times faster than dd, target ≥ 3; both medians of the per-round ratios)\n", b.runs)
	return nil
}

// deltaReflash prints the time of a delta re-flash of the unchanged
// image raw against the full flash before it.
func (b *bench) deltaReflash(ctx context.Context, raw string) error {
	os.Remove(b.target)
	full, err := timeOnce(ctx, b.cli, "flash", "-q", "--image", raw, "--target", b.target, "--delta")
	if err != nil {
		return err
	}
	delta, err := timeOnce(ctx, b.cli, "flash", "-q", "--image", raw, "--target", b.target, "--delta")
	if err != nil {
		return err
	}
	fmt.Printf("\ndelta re-flash of an unchanged image: %.2fs vs full flash %.2fs = %.0f%% (target ≤ 15%%)\n",
		delta.Seconds(), full.Seconds(), 100*delta.Seconds()/full.Seconds())
	return nil
}

// denseLimit prints the physical limit: raw sequential writes vs a dense
// image. The dense image lives in memory (/dev/shm) when it can, so the
// figure is the writer's against the target's write speed, not the
// source disk's read speed sharing the same device. Rounds alternate dd
// and leviathan, each from an empty page cache.
func (b *bench) denseLimit(ctx context.Context) error {
	const denseMiB = 1024
	denseDir := b.dir
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		denseDir = "/dev/shm"
	}
	dense := filepath.Join(denseDir, "leviathan-bench-dense.img")
	if err := makeDense(dense, denseMiB<<20); err != nil {
		return err
	}
	defer os.Remove(dense)
	var ddRuns, levRuns []time.Duration
	var fractions []float64
	for range b.runs {
		d, err := b.once(ctx, "dd", "if=/dev/zero", "of="+b.target, "bs=4M", fmt.Sprintf("count=%d", denseMiB/4), "conv=fsync", "status=none")
		if err != nil {
			return err
		}
		l, err := b.once(ctx, b.cli, "flash", "-q", "--no-verify", "--image", dense, "--target", b.target)
		if err != nil {
			return err
		}
		ddRuns, levRuns = append(ddRuns, d), append(levRuns, l)
		fractions = append(fractions, d.Seconds()/l.Seconds())
	}
	mbs := func(d time.Duration) float64 { return denseMiB * 1.048576 / d.Seconds() }
	fmt.Printf("dense %d MiB image (source in %s): %.0f MB/s vs the target's raw sequential write (dd from /dev/zero, conv=fsync) %.0f MB/s = %.0f%% (target ≥ 90%%; medians of %d rounds, the fraction the median of the per-round fractions)\n",
		denseMiB, denseDir, mbs(median(levRuns)), mbs(median(ddRuns)), 100*medianOf(fractions), b.runs)
	return nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianOf(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func timeOnce(ctx context.Context, name string, args ...string) (time.Duration, error) {
	start := time.Now()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%s: %v\n%s", name, err, out)
	}
	return time.Since(start), nil
}

// dropCaches empties the page cache when allowed, so reads come from disk.
func dropCaches() {
	exec.Command("sync").Run()
	os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0)
}

// makeSparse copies the test OS image to the front of a sparse file of
// size bytes and adds random extents (64 KiB to 8 MiB) until about a
// quarter of it holds data.
func makeSparse(base, out string, size int64) error {
	if fi, err := os.Stat(out); err == nil && fi.Size() == size {
		return nil
	}
	in, err := os.ReadFile(base)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	f.Truncate(size)
	zero := make([]byte, 64<<10)
	for off := 0; off < len(in); off += len(zero) {
		end := min(off+len(zero), len(in))
		if !bytes.Equal(in[off:end], zero[:end-off]) {
			f.WriteAt(in[off:end], int64(off))
		}
	}
	rng := rand.New(rand.NewPCG(42, 42))
	buf := make([]byte, 8<<20)
	for data := int64(len(in)) / 8; data < size/4; {
		n := int64(64<<10) << rng.IntN(8)
		off := int64(len(in)) + rng.Int64N(size-int64(len(in))-n)
		off &^= 4095
		for i := range buf[:n] {
			buf[i] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return err
		}
		data += n
	}
	return f.Close()
}

func makeDense(out string, size int64) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 4<<20)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	buf[510], buf[511] = 0x55, 0xaa
	for off := int64(0); off < size; off += int64(len(buf)) {
		buf[1000] = byte(off >> 22) // no two chunks alike
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
	return f.Close()
}

// compress writes src compressed as format to dst (reused when present).
func compress(ctx context.Context, format, src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	tmp := dst + ".tmp"
	if format == "xz" {
		out, err := os.Create(tmp)
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, "xz", "-T0", "-1", "-c", src)
		cmd.Stdout = out
		err = cmd.Run()
		out.Close()
		if err != nil {
			return fmt.Errorf("xz: %w", err)
		}
		return os.Rename(tmp, dst)
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	var w io.WriteCloser
	if format == "gz" {
		w, _ = gzip.NewWriterLevel(out, gzip.BestSpeed)
	} else {
		w, _ = zstd.NewWriter(out, zstd.WithEncoderLevel(zstd.SpeedFastest))
	}
	if _, err := io.Copy(w, in); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
