package testbot

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/balena/leviathan-action/internal/progress"
)

// sendProgress reports an upload's progress: a bar (bytes sent, MB/s, ETA)
// on a terminal, otherwise a line every few seconds, as a job log wants.
type sendProgress struct {
	w     io.Writer
	size  int64 // 0 when unknown
	every time.Duration
	bar   *progressbar.ProgressBar
	start time.Time
	last  time.Time
}

func newSendProgress(w io.Writer, size int64) *sendProgress {
	p := &sendProgress{w: w, size: size, every: 5 * time.Second, start: time.Now()}
	p.last = p.start
	if progress.IsTerminal(w) {
		total := size
		if total == 0 {
			total = -1
		}
		p.bar = progress.NewBar(w, total, "flashing")
	}
	return p
}

// sent is the upload's callback: n bytes sent so far.
func (p *sendProgress) sent(n int64) {
	if p.bar != nil {
		p.bar.Set64(n)
		return
	}
	now := time.Now()
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	rate := float64(n) / 1e6 / now.Sub(p.start).Seconds()
	if p.size > 0 {
		fmt.Fprintf(p.w, "  flashing: sent %s of %s (%d%%, %.0f MB/s)\n", mib(n), mib(p.size), n*100/p.size, rate)
		return
	}
	fmt.Fprintf(p.w, "  flashing: sent %s (%.0f MB/s)\n", mib(n), rate)
}

// done clears the bar.
func (p *sendProgress) done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

// statusLine shows a changing status: rewritten in place on a terminal,
// otherwise printed at most every interval.
type statusLine struct {
	w       io.Writer
	tty     bool
	every   time.Duration
	printed time.Time
}

func newStatusLine(w io.Writer, every time.Duration) *statusLine {
	return &statusLine{w: w, tty: progress.IsTerminal(w), every: every, printed: time.Now()}
}

func (s *statusLine) show(msg string) {
	if s.tty {
		fmt.Fprint(s.w, "\r\033[K"+msg)
		return
	}
	if time.Since(s.printed) >= s.every {
		s.printed = time.Now()
		fmt.Fprintln(s.w, msg)
	}
}

func (s *statusLine) clear() {
	if s.tty {
		fmt.Fprint(s.w, "\r\033[K")
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
