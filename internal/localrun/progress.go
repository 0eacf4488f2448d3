package localrun

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/image"
	"github.com/balena/leviathan-action/suites/gotest"
)

// isTerminal reports whether w is an interactive terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// flash uploads the image with a progress bar (bytes sent, MB/s, ETA) on a
// terminal, or a line every few seconds otherwise.
func flash(ctx context.Context, out io.Writer, c *client.Client, path string) (image.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return image.Result{}, fmt.Errorf("localrun: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return image.Result{}, fmt.Errorf("localrun: %w", err)
	}
	var progress func(int64)
	if isTerminal(out) {
		bar := progressbar.NewOptions64(fi.Size(), progressbar.OptionSetWriter(out),
			progressbar.OptionSetDescription("flashing"), progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond))
		defer bar.Finish()
		progress = func(n int64) { bar.Set64(n) }
	} else {
		start, last := time.Now(), time.Now()
		progress = func(n int64) {
			if time.Since(last) < 3*time.Second {
				return
			}
			last = time.Now()
			fmt.Fprintf(out, "  flashing: %.0f of %.0f MB sent (%.0f MB/s)\n", float64(n)/1e6, float64(fi.Size())/1e6,
				float64(n)/1e6/time.Since(start).Seconds())
		}
	}
	r, err := c.Flash(ctx, f, fi.Size(), "", progress)
	if err != nil {
		return image.Result{}, err
	}
	return image.Result{Format: image.Format(r.Format), ImageBytes: r.ImageBytes, Written: r.Written,
		Skipped: r.Skipped, SHA256: r.SHA256, Duration: r.Duration}, nil
}

// boot waits for the DUT to answer over SSH, showing the latest console
// line meanwhile. The worker fails fast on a kernel panic; the error
// carries the last console lines.
func boot(ctx context.Context, o Options, c *client.Client, mark int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := c.WaitOnline(wctx, o.BootTimeout); done <- err }()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	tty := isTerminal(o.Out)
	start, printed := time.Now(), time.Now()
	line := ""
	for {
		select {
		case err := <-done:
			if tty {
				fmt.Fprint(o.Out, "\r\033[K")
			}
			if err != nil {
				return fmt.Errorf("localrun: the DUT did not boot: %w", err)
			}
			return nil
		case <-tick.C:
			// Only what the console printed since the last tick.
			if b, end, err := c.SerialLog(ctx, mark); err == nil {
				mark = end
				if last := strings.TrimSpace(dut.TailLines(b, 1)); last != "" {
					line = last
				}
			}
			if r := []rune(line); len(r) > 60 {
				line = string(r[:60]) + "…"
			}
			msg := fmt.Sprintf("  booting %4.0fs  %s", time.Since(start).Seconds(), line)
			if tty {
				fmt.Fprint(o.Out, "\r\033[K"+msg)
			} else if time.Since(printed) >= 10*time.Second {
				printed = time.Now()
				fmt.Fprintln(o.Out, msg)
			}
		}
	}
}

// printTable prints the result table.
func printTable(w io.Writer, s *gotest.Summary) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUITE\tTEST\tRESULT\tTIME")
	for _, t := range s.Tests {
		if strings.Contains(t.Name, "/") {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1fs\n", t.Suite, t.Name, strings.ToUpper(t.Result), t.Seconds)
	}
	tw.Flush()
	for _, e := range s.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped in %.1fs — reports in %s\n", s.Passed, s.Failed, s.Skipped, s.Seconds, dirOf(s.JUnit))
}

func dirOf(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[:i]
	}
	return "."
}
