package actionbintest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/balena/leviathan-action/internal/benchrow"
)

// BenchmarkActionStart times the action's first steps on an empty cache,
// the two paths taking turns (A B A B …): the download path (action-bin.sh
// fetching and verifying the real leviathan-action from a local server)
// against today's build path (`go build` with an empty GOCACHE, as the
// action's build step runs it). Rounds: $LEVIATHAN_BENCH_ROUNDS, 3 by
// default. It prints medians, the spread and the ratio; the target is a
// download-path start of at most 5 s.
func BenchmarkActionStart(b *testing.B) {
	if _, err := exec.LookPath("go"); err != nil {
		b.Skip("no Go toolchain on PATH:", err)
	}
	rounds := 3
	if s := os.Getenv("LEVIATHAN_BENCH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("LEVIATHAN_BENCH_ROUNDS=%q is not a positive number", s)
		}
		rounds = n
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		b.Fatal(err)
	}
	// The released binary, built as the release builds it (warm cache:
	// setup, not measured).
	bin := filepath.Join(b.TempDir(), assetName())
	if err := goBuild(root, bin, ""); err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		b.Fatal(err)
	}
	rel := newRelease(b, "/", map[string][]byte{assetName(): data})
	action := actionTree(b, sum(data)+"  "+assetName()+"\n", "v1.0.0")
	env := map[string]string{"GITHUB_ACTION_PATH": action, "LEVIATHAN_ACTION_DOWNLOAD_URL": rel.srv.URL}

	var download, build []time.Duration
	for b.Loop() {
		for range rounds {
			start := time.Now()
			r := runScript(b, env, false)
			d := time.Since(start)
			if r.code != 0 || r.out["build"] != "false" {
				b.Fatalf("download path: exit %d, build=%q\n%s", r.code, r.out["build"], r.stdout)
			}
			download = append(download, d)

			start = time.Now()
			if err := goBuild(root, filepath.Join(b.TempDir(), "leviathan-action"), b.TempDir()); err != nil {
				b.Fatal(err)
			}
			build = append(build, time.Since(start))
		}
	}
	dm, bm := median(download), median(build)
	b.ReportMetric(dm.Seconds(), "download-s")
	b.ReportMetric(bm.Seconds(), "build-s")
	b.ReportMetric(bm.Seconds()/dm.Seconds(), "build/download")
	verdict := "met"
	if dm > 5*time.Second {
		verdict = "NOT met"
	}
	benchrow.Record(benchrow.Row{What: "the action's step start, empty cache", Leviathan: fmt.Sprintf("download + verify %.2f s", dm.Seconds()),
		Baseline: fmt.Sprintf("go build %.1f s", bm.Seconds()), Result: fmt.Sprintf("%.0f× faster", bm.Seconds()/dm.Seconds()),
		Spread: fmt.Sprintf("%.2f/%.2f/%.2f s", slices.Min(download).Seconds(), dm.Seconds(), slices.Max(download).Seconds()),
		Target: "≤ 5 s", Met: benchrow.Judge(dm <= 5*time.Second)})
	fmt.Printf("action step start, empty cache, %d rounds interleaved (%.1f MB binary):\n", len(download), float64(len(data))/1e6)
	fmt.Printf("  download + verify  median %6.2fs  (%.2f–%.2fs)\n", dm.Seconds(), slices.Min(download).Seconds(), slices.Max(download).Seconds())
	fmt.Printf("  go build, no cache median %6.2fs  (%.2f–%.2fs)\n", bm.Seconds(), slices.Min(build).Seconds(), slices.Max(build).Seconds())
	fmt.Printf("  build / download   %.0f×; target download ≤ 5 s: %s\n", bm.Seconds()/dm.Seconds(), verdict)
}

// goBuild builds cmd/leviathan-action as the action's build step does;
// with an empty GOCACHE directory when cache is set, as the release does
// (reproducible flags) otherwise.
func goBuild(root, out, cache string) error {
	args := []string{"build", "-trimpath", "-o", out, "./cmd/leviathan-action"}
	if cache == "" {
		args = []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, "./cmd/leviathan-action"}
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if cache != "" {
		cmd.Env = append(cmd.Env, "GOCACHE="+cache)
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %v: %w\n%s", args, err, buf.String())
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
