// Command flash measures `leviathan flash` against the tools a user would
// otherwise pick, in one run, and prints ratios:
//
//   - vs `bmaptool copy` (same bmap) on a ~2 GiB sparse image, raw and
//     compressed (gz, zst, xz);
//   - vs `dd bs=4M conv=fsync` on the raw sparse image, both given the
//     image file alone (no bmap: leviathan finds the data by the holes);
//   - a delta re-flash of an unchanged image vs a full flash, with the
//     target in the page cache and from an empty page cache, each beside
//     its bound: reading both files' data;
//   - a dense image's MB/s as a fraction of the target's raw sequential
//     write speed (dd from /dev/zero), the physical limit;
//   - the same dense image written to a loop device with direct I/O
//     (leviathan flash writes block devices with O_DIRECT) vs
//     `dd oflag=direct bs=4M` of the same data, the device's own limit
//     (as root, with losetup; skipped, saying why, otherwise).
//
// Targets are files on the build directory's filesystem, and the loop
// device's backing file is there too. In every figure the tools take
// turns within each round and the figure is printed with the min/median/
// max of its per-round values. It is a benchmark: it prints figures and
// fails only when it cannot measure.
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
	"strconv"
	"strings"
	"time"

	"github.com/balena/leviathan-action/internal/benchrow"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/balena/leviathan-action/qemukit/testimage"
)

func main() {
	build := flag.String("build-dir", "build", "build outputs and caches")
	size := flag.Int64("size-mib", 2048, "sparse image size in MiB")
	runs := flag.Int("runs", 5, "timed rounds per format, the tools taking turns in each (medians)")
	flag.Parse()
	if *runs < 3 {
		fmt.Fprintln(os.Stderr, "bench-flash: --runs must be at least 3, for a min, a median and a max")
		os.Exit(2)
	}
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
	// The dense image lives in memory (/dev/shm) when it can, so the
	// figures are the writer's against the target's write speed, not the
	// source disk's read speed sharing the same device.
	denseDir := b.dir
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		denseDir = "/dev/shm"
	}
	dense := filepath.Join(denseDir, "leviathan-bench-dense.img")
	if err := makeDense(dense, denseMiB<<20); err != nil {
		return err
	}
	defer os.Remove(dense)
	if err := b.denseLimit(ctx, dense); err != nil {
		return err
	}
	return b.directLimit(ctx, dense)
}

// denseMiB is the dense image's size, in MiB.
const denseMiB = 1024

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
	blocks, err := xzBlocks(ctx, images["xz"])
	if err != nil {
		return nil, "", err
	}
	if blocks < 2 {
		return nil, "", fmt.Errorf("%s is a single xz block: it would decode on one core", images["xz"])
	}
	fmt.Printf("the xz image holds %d blocks (xz -T0 --block-size=16MiB): xz decodes it on all cores\n", blocks)
	return images, bm, nil
}

// xzBlocks is the number of blocks in the xz file at path, from
// xz --list --robot.
func xzBlocks(ctx context.Context, path string) (int, error) {
	out, err := exec.CommandContext(ctx, "xz", "--robot", "--list", path).Output()
	if err != nil {
		return 0, fmt.Errorf("xz --list %s: %w", path, err)
	}
	for line := range strings.Lines(string(out)) {
		if f := strings.Split(line, "\t"); len(f) > 2 && f[0] == "totals" {
			return strconv.Atoi(f[2])
		}
	}
	return 0, fmt.Errorf("xz --list %s: no totals line in %q", path, out)
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
		var levs, bts, plains, dds []time.Duration
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
				// dd has the image file alone, so leviathan does too: it
				// finds the file's data by its holes, without a bmap.
				plain, err := b.once(ctx, b.cli, "flash", "-q", "--image", images[f], "--target", b.target)
				if err != nil {
					return err
				}
				dd, err := b.once(ctx, "dd", "if="+images["raw"], "of="+b.target, "bs=4M", "conv=fsync", "status=none")
				if err != nil {
					return err
				}
				plains, dds = append(plains, plain), append(dds, dd)
				ddRatios = append(ddRatios, dd.Seconds()/plain.Seconds())
			}
		}
		ddCol, ddRatio, ddSpread := "", "", ""
		if f == "raw" {
			ddCol, ddRatio = fmt.Sprintf("%.2fs", median(dds).Seconds()), fmt.Sprintf("%.1f×", medianOf(ddRatios))
			ddSpread = fmt.Sprintf("  dd/lev %s (leviathan without the bmap %.2fs)", spread(ddRatios, "%.1f"), median(plains).Seconds())
		}
		fmt.Printf("%-8s %13.2fs %13.2fs %9.2f× %12s %10s   ratio %s%s\n", f, median(levs).Seconds(), median(bts).Seconds(), medianOf(ratios), ddCol, ddRatio, spread(ratios, "%.2f"), ddSpread)
		// gz has no target of its own in the issue; it is recorded with
		// the same one.
		record(benchrow.Row{What: "flash " + f + " with its bmap vs bmaptool copy", Leviathan: fmt.Sprintf("%.2f s", median(levs).Seconds()),
			Baseline: fmt.Sprintf("%.2f s", median(bts).Seconds()), Result: fmt.Sprintf("%.2f×", medianOf(ratios)), Spread: spread(ratios, "%.2f") + "×",
			Target: "≤ 0.8×", Met: benchrow.Judge(medianOf(ratios) <= 0.8)})
		if f == "raw" {
			record(benchrow.Row{What: "flash sparse raw vs dd bs=4M conv=fsync", Leviathan: fmt.Sprintf("%.2f s", median(plains).Seconds()),
				Baseline: ddCol, Result: ddRatio + " faster", Spread: spread(ddRatios, "%.1f") + "×", Target: "≥ 4×", Met: benchrow.Judge(medianOf(ddRatios) >= 4)})
		}
	}
	fmt.Printf("  (times: medians of %d rounds; ratio = leviathan time / bmaptool time, both with the bmap, target ≤ 0.8; dd/lev = how many times faster than dd, both with the image file alone, target ≥ 4; both medians of the per-round ratios, min/median/max after them)\n", b.runs)
	return nil
}

// deltaReflash prints the time of a delta re-flash of the unchanged
// image raw against the full flash before it, in rounds: each a full
// flash onto an absent target from an empty page cache, then a delta
// right after it (warm: the target's blocks are still in the page cache,
// as in earlier versions of this figure), then another from an empty
// page cache (cold: the target's blocks are read from disk, as a DUT's
// medium would be after it ran).
func (b *bench) deltaReflash(ctx context.Context, raw string) error {
	var fulls, warms, colds, reads, warmReads []time.Duration
	var warmPct, coldPct, boundPct, warmBoundPct []float64
	for range b.runs {
		full, err := b.once(ctx, b.cli, "flash", "-q", "--image", raw, "--target", b.target, "--delta")
		if err != nil {
			return err
		}
		warm, err := timeOnce(ctx, b.cli, "flash", "-q", "--image", raw, "--target", b.target, "--delta")
		if err != nil {
			return err
		}
		warmRead, err := readData(raw, b.target)
		if err != nil {
			return err
		}
		dropCaches()
		cold, err := timeOnce(ctx, b.cli, "flash", "-q", "--image", raw, "--target", b.target, "--delta")
		if err != nil {
			return err
		}
		dropCaches()
		read, err := readData(raw, b.target)
		if err != nil {
			return err
		}
		fulls, warms, colds = append(fulls, full), append(warms, warm), append(colds, cold)
		warmPct = append(warmPct, 100*warm.Seconds()/full.Seconds())
		coldPct = append(coldPct, 100*cold.Seconds()/full.Seconds())
		boundPct = append(boundPct, 100*read.Seconds()/full.Seconds())
		reads = append(reads, read)
		warmBoundPct = append(warmBoundPct, 100*warmRead.Seconds()/full.Seconds())
		warmReads = append(warmReads, warmRead)
	}
	fmt.Printf("\ndelta re-flash of an unchanged image vs the full flash before it (%.2fs; target ≤ 10%% in every round; medians of %d rounds, min/median/max of the per-round fractions):\n", median(fulls).Seconds(), b.runs)
	fmt.Printf("  right after the full flash (target in the page cache): %.2fs = %.0f%% (%s %%)\n", median(warms).Seconds(), medianOf(warmPct), spread(warmPct, "%.0f"))
	fmt.Printf("  its bound: only reading the image's and the target's data from the page cache, in this process, both at once: %.2fs = %.0f%% (%s %%)\n", median(warmReads).Seconds(), medianOf(warmBoundPct), spread(warmBoundPct, "%.0f"))
	fmt.Printf("  from an empty page cache (target read from disk):      %.2fs = %.0f%% (%s %%)\n", median(colds).Seconds(), medianOf(coldPct), spread(coldPct, "%.0f"))
	fmt.Printf("  its bound: only reading the image's and the target's data from disk, both at once: %.2fs = %.0f%% (%s %%)\n", median(reads).Seconds(), medianOf(boundPct), spread(boundPct, "%.0f"))
	record(benchrow.Row{What: "delta re-flash of an unchanged image, target in the page cache", Leviathan: fmt.Sprintf("%.2f s", median(warms).Seconds()),
		Baseline: fmt.Sprintf("full flash %.2f s", median(fulls).Seconds()), Result: fmt.Sprintf("%.0f %%", medianOf(warmPct)), Spread: spread(warmPct, "%.0f") + " %",
		Target: "≤ 10 % in every round", Met: benchrow.Judge(slices.Max(warmPct) <= 10)})
	record(benchrow.Row{What: "  its bound: reading the image's and the target's data from the page cache", Leviathan: fmt.Sprintf("%.3f s", median(warmReads).Seconds()),
		Baseline: fmt.Sprintf("full flash %.2f s", median(fulls).Seconds()), Result: fmt.Sprintf("%.0f %%", medianOf(warmBoundPct)), Spread: spread(warmBoundPct, "%.0f") + " %"})
	record(benchrow.Row{What: "delta re-flash of an unchanged image, empty page cache", Leviathan: fmt.Sprintf("%.2f s", median(colds).Seconds()),
		Baseline: fmt.Sprintf("full flash %.2f s", median(fulls).Seconds()), Result: fmt.Sprintf("%.0f %%", medianOf(coldPct)), Spread: spread(coldPct, "%.0f") + " %",
		Target: "≤ 10 % in every round", Met: benchrow.Judge(slices.Max(coldPct) <= 10)})
	record(benchrow.Row{What: "  its bound: reading the image's and the target's data from disk", Leviathan: fmt.Sprintf("%.2f s", median(reads).Seconds()),
		Baseline: fmt.Sprintf("full flash %.2f s", median(fulls).Seconds()), Result: fmt.Sprintf("%.0f %%", medianOf(boundPct)), Spread: spread(boundPct, "%.0f") + " %"})
	return nil
}

// readData reads the data extents (SEEK_DATA/SEEK_HOLE) of the files,
// all at once, 1 MiB at a time with four reads in flight per file, and
// returns how long that took: what a delta re-flash of an unchanged
// image reads at the least.
func readData(paths ...string) (time.Duration, error) {
	start := time.Now()
	var g errgroup.Group
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return 0, err
		}
		offs := make(chan int64)
		g.Go(func() error {
			defer close(offs)
			for off := int64(0); off < fi.Size(); {
				data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
				if err != nil {
					return nil // ENXIO: only a hole is left
				}
				hole, err := unix.Seek(int(f.Fd()), data, unix.SEEK_HOLE)
				if err != nil {
					return err
				}
				for o := data; o < hole; o += 1 << 20 {
					offs <- o
				}
				off = hole
			}
			return nil
		})
		for range 4 {
			g.Go(func() error {
				buf := make([]byte, 1<<20)
				for o := range offs {
					if _, err := f.ReadAt(buf, o); err != nil && err != io.EOF {
						return err
					}
				}
				return nil
			})
		}
	}
	err := g.Wait()
	return time.Since(start), err
}

// denseLimit prints the physical limit: raw sequential writes vs the
// dense image. Rounds alternate dd and leviathan, each from an empty
// page cache.
func (b *bench) denseLimit(ctx context.Context, dense string) error {
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
		fractions = append(fractions, 100*d.Seconds()/l.Seconds())
	}
	fmt.Printf("\ndense %d MiB image (source in %s): %.0f MB/s vs the target's raw sequential write (dd from /dev/zero, conv=fsync) %.0f MB/s = %.0f%% (min/median/max %s %%; target ≥ 90%%; medians of %d rounds, the fraction the median of the per-round fractions)\n",
		denseMiB, filepath.Dir(dense), mbs(median(levRuns)), mbs(median(ddRuns)), medianOf(fractions), spread(fractions, "%.0f"), b.runs)
	record(benchrow.Row{What: fmt.Sprintf("flash a dense %d MiB image vs the target's raw write", denseMiB), Leviathan: fmt.Sprintf("%.0f MB/s", mbs(median(levRuns))),
		Baseline: fmt.Sprintf("dd from /dev/zero %.0f MB/s", mbs(median(ddRuns))), Result: fmt.Sprintf("%.0f %%", medianOf(fractions)), Spread: spread(fractions, "%.0f") + " %",
		Target: "≥ 90 %", Met: benchrow.Judge(medianOf(fractions) >= 90)})
	return nil
}

// directLimit prints the device's own limit: the dense image written to
// a loop device with direct I/O over a file in the working directory, by
// leviathan flash (which writes a block device with O_DIRECT) and by
// `dd oflag=direct bs=4M`, taking turns. It needs root and losetup; it
// prints why it is skipped otherwise.
func (b *bench) directLimit(ctx context.Context, dense string) error {
	fmt.Printf("\nwrite to a loop device with direct I/O (%d MiB): leviathan flash vs dd oflag=direct bs=4M of the same raw data\n", denseMiB)
	if os.Geteuid() != 0 {
		fmt.Println("  skipped: attaching a loop device needs root")
		return nil
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		fmt.Println("  skipped: losetup is not installed (apt-get install mount)")
		return nil
	}
	backing := filepath.Join(b.dir, "loop-backing")
	if err := os.WriteFile(backing, nil, 0o644); err != nil {
		return err
	}
	defer os.Remove(backing)
	if err := os.Truncate(backing, denseMiB<<20); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "losetup", "--direct-io=on", "--find", "--show", backing).CombinedOutput()
	if err != nil {
		fmt.Printf("  skipped: cannot attach a loop device here: %v: %s\n", err, bytes.TrimSpace(out))
		return nil
	}
	dev := string(bytes.TrimSpace(out))
	defer exec.Command("losetup", "-d", dev).Run()
	dd := func() (time.Duration, error) {
		dropCaches()
		return timeOnce(ctx, "dd", "if="+dense, "of="+dev, "bs=4M", "oflag=direct", "conv=fsync", "status=none")
	}
	// A first, untimed pass allocates the backing file's blocks, so every
	// timed round overwrites.
	if _, err := dd(); err != nil {
		return err
	}
	var ddRuns, levRuns []time.Duration
	var fractions []float64
	for range b.runs {
		dropCaches()
		l, err := timeOnce(ctx, b.cli, "flash", "-q", "--no-verify", "--image", dense, "--target", dev)
		if err != nil {
			return err
		}
		d, err := dd()
		if err != nil {
			return err
		}
		ddRuns, levRuns = append(ddRuns, d), append(levRuns, l)
		fractions = append(fractions, 100*d.Seconds()/l.Seconds())
	}
	fmt.Printf("  leviathan %.0f MB/s (%.2fs) vs dd oflag=direct %.0f MB/s (%.2fs) = %.0f%% of the device's limit (min/median/max %s %%; ratio leviathan/dd time %.2f×; medians of %d rounds)\n",
		mbs(median(levRuns)), median(levRuns).Seconds(), mbs(median(ddRuns)), median(ddRuns).Seconds(), medianOf(fractions), spread(fractions, "%.0f"), 100/medianOf(fractions), b.runs)
	record(benchrow.Row{What: "flash to a loop device with direct I/O vs dd oflag=direct", Leviathan: fmt.Sprintf("%.0f MB/s", mbs(median(levRuns))),
		Baseline: fmt.Sprintf("%.0f MB/s", mbs(median(ddRuns))), Result: fmt.Sprintf("%.0f %% of the device's limit", medianOf(fractions)), Spread: spread(fractions, "%.0f") + " %"})
	return nil
}

// record adds a row to make bench's table; a failure to write it is
// printed, the figure above stands.
func record(r benchrow.Row) {
	if err := benchrow.Record(r); err != nil {
		fmt.Fprintf(os.Stderr, "bench/flash: %v\n", err)
	}
}

// mbs is the dense image's MB/s when written in d.
func mbs(d time.Duration) float64 { return denseMiB * 1.048576 / d.Seconds() }

// spread is "min/median/max" of v, each printed with format.
func spread(v []float64, format string) string {
	return fmt.Sprintf(format+"/"+format+"/"+format, slices.Min(v), medianOf(v), slices.Max(v))
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
		// Reused, unless an older run left a single-block xz image.
		if format != "xz" {
			return nil
		}
		if n, err := xzBlocks(ctx, dst); err == nil && n > 1 {
			return nil
		}
	}
	tmp := dst + ".tmp"
	if format == "xz" {
		out, err := os.Create(tmp)
		if err != nil {
			return err
		}
		// Multi-threaded compression makes a multi-block stream whose
		// blocks record their sizes, which xz decodes on all cores.
		cmd := exec.CommandContext(ctx, "xz", "-T0", "--block-size=16MiB", "-1", "-c", src)
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
