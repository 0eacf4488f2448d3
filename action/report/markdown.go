package report

import (
	"fmt"
	"html"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxSummary is GitHub's limit on a check run's output.summary and text.
const MaxSummary = 65535

// MaxStepSummary is GitHub's limit on one step's job summary.
const MaxStepSummary = 1 << 20

// block is a unit of Markdown that is kept whole or dropped whole when a
// document is cut to a limit; cases counts the test cases it shows.
type block struct {
	text  string
	cases int
}

// render joins blocks, dropping the trailing ones that do not fit in
// limit bytes and ending with a pointer to the full report when it does.
func render(blocks []block, limit int, total int, pointer string) string {
	var b strings.Builder
	size := 0
	for _, bl := range blocks {
		size += len(bl.text)
	}
	if size <= limit {
		for _, bl := range blocks {
			b.WriteString(bl.text)
		}
		return b.String()
	}
	shown := 0
	room := limit - len(truncation(total, total, pointer))
	for _, bl := range blocks {
		if b.Len()+len(bl.text) > room {
			b.WriteString(truncation(shown, total, pointer))
			return b.String()
		}
		b.WriteString(bl.text)
		shown += bl.cases
	}
	return b.String()
}

func truncation(shown, total int, pointer string) string {
	where := "the junit.xml report"
	if pointer != "" {
		where = pointer
	}
	return fmt.Sprintf("\n---\n**Truncated** to fit GitHub's limit: %d of %d listed tests shown. Full report: %s\n", shown, total, where)
}

// cell makes text safe inside a Markdown table cell, on one line.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return mdEscaper.Replace(s)
}

// mdEscaper escapes what Markdown or its HTML would interpret.
var mdEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `\`, `\\`, "|", `\|`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`)

// fence wraps text in a code fence longer than any backtick run in it.
func fence(text string) string {
	f := "```"
	for strings.Contains(text, f) {
		f += "`"
	}
	return f + "text\n" + strings.TrimRight(text, "\n") + "\n" + f + "\n"
}

func dur(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// countsLine is "2 failed, 10 passed, 1 skipped".
func countsLine(c Counts) string {
	return fmt.Sprintf("%d failed, %d passed, %d skipped", c.Failed, c.Passed, c.Skipped)
}

func icon(conclusion string) string {
	switch conclusion {
	case "success":
		return "✅"
	case "failure":
		return "❌"
	default:
		return "⚪"
	}
}

// runSummary is the Markdown summary of one check run.
func (r *Reporter) runSummary(g *group) string {
	c := g.counts()
	conc := conclusion(c)
	blocks := []block{{text: fmt.Sprintf("### %s %s\n\n**%s** in %s (%d tests)\n\n", icon(conc), cell(g.name), countsLine(c), dur(c.Duration), c.Total())}}
	if note := r.visualNote(); note != "" {
		blocks = append(blocks, block{text: strings.TrimPrefix(note, "\n") + "\n"})
	}
	listed := 0
	if c.Failed > 0 {
		blocks = append(blocks, block{text: "#### Failed\n\n| Test | Duration | Location | Message |\n| --- | --- | --- | --- |\n"})
		for _, f := range g.failures {
			blocks = append(blocks, block{cases: 1, text: fmt.Sprintf("| %s | %s | %s | %s |\n",
				cell(f.c.Name), dur(f.c.Duration), cell(f.where()), cell(firstLine(f.message, 200)))})
			listed++
		}
		blocks = append(blocks, block{text: "\n"})
	}
	if c.Skipped > 0 {
		blocks = append(blocks, block{text: "#### Skipped\n\n| Test | Reason |\n| --- | --- |\n"})
		for _, k := range g.cases {
			if k.Status == Skipped {
				blocks = append(blocks, block{cases: 1, text: fmt.Sprintf("| %s | %s |\n", cell(k.Name), cell(firstLine(r.redact(skipReason(k)), 200)))})
				listed++
			}
		}
		blocks = append(blocks, block{text: "\n"})
	}
	if c.Failed > 0 {
		blocks = append(blocks, block{text: "#### Failure output\n\n"})
		for _, f := range g.failures {
			blocks = append(blocks, block{text: fmt.Sprintf("<details><summary>%s</summary>\n\n%s\n</details>\n\n",
				html.EscapeString(f.c.Name), fence(tail(r.redact(f.c.Output), 2000)))})
		}
	}
	return render(blocks, MaxSummary, listed, r.reportURL())
}

// stepSummary is the job summary: one table row per check run, then the
// failed tests.
func (r *Reporter) stepSummary(groups []*group, out *Outcome) string {
	title := "Leviathan test results"
	if r.cfg.DeviceType != "" {
		title += " on " + r.cfg.DeviceType
	}
	blocks := []block{{text: fmt.Sprintf("## %s\n\n%s **%s** in %s\n\n| | Check | Passed | Failed | Skipped | Duration |\n| --- | --- | ---: | ---: | ---: | ---: |\n",
		cell(title), icon(out.Conclusion), countsLine(out.Counts), dur(out.Duration))}}
	for i, g := range groups {
		c := g.counts()
		name := cell(g.name)
		if i < len(out.CheckRuns) && out.CheckRuns[i].URL != "" {
			name = fmt.Sprintf("[%s](%s)", name, out.CheckRuns[i].URL)
		}
		blocks = append(blocks, block{text: fmt.Sprintf("| %s | %s | %d | %d | %d | %s |\n",
			icon(conclusion(c)), name, c.Passed, c.Failed, c.Skipped, dur(c.Duration))})
	}
	blocks = append(blocks, block{text: "\n"})
	failed := 0
	if out.Failed > 0 {
		blocks = append(blocks, block{text: "### Failed tests\n\n| Check | Test | Location | Message |\n| --- | --- | --- | --- |\n"})
		for _, g := range groups {
			for _, f := range g.failures {
				blocks = append(blocks, block{cases: 1, text: fmt.Sprintf("| %s | %s | %s | %s |\n",
					cell(g.name), cell(f.c.Name), cell(f.where()), cell(firstLine(f.message, 200)))})
				failed++
			}
		}
	}
	if note := r.visualNote(); note != "" {
		blocks = append(blocks, block{text: note})
	}
	if out.WorkflowCommands {
		blocks = append(blocks, block{text: "\n> [!NOTE]\n> The token cannot write check runs (a pull request from a fork?): failures are reported as workflow annotations instead.\n"})
	}
	return render(blocks, MaxStepSummary, failed, r.reportURL())
}

func firstLine(s string, n int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return truncRunes(s, n)
}

// truncRunes cuts s to at most n runes, marking the cut.
func truncRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// tail keeps the last n bytes of s, on a rune and line boundary when it
// can, marking the cut.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	for len(s) > 0 && !utf8.RuneStart(s[0]) {
		s = s[1:]
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)/2 {
		s = s[i+1:]
	}
	return "[…]\n" + s
}

// skipReason is the skip message, or the output without go test's
// framing lines.
func skipReason(k Case) string {
	if k.Message != "" && k.Message != "Skipped" {
		return k.Message
	}
	for _, l := range strings.Split(k.Output, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		if m := goLine.FindStringSubmatch(" " + l); m != nil {
			return m[3]
		}
		return l
	}
	return ""
}
