package report

import (
	"fmt"
	"html"
	"strings"
	"time"
	"unicode"
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

// doc collects the blocks of a document cut to limit bytes. Once the
// blocks exceed the limit, the document will be cut within them, so the
// blocks after do not matter: full tells the caller to stop making them.
type doc struct {
	blocks []block
	size   int
	limit  int
}

func (d *doc) add(text string, cases int) {
	d.blocks = append(d.blocks, block{text: text, cases: cases})
	d.size += len(text)
}

// full reports whether blocks added from now on would be cut.
func (d *doc) full() bool { return d.size > d.limit }

// render joins the blocks, cut to the limit (see render); total is the
// number of cases listed in the whole document.
func (d *doc) render(total int, pointer string) string {
	return render(d.blocks, d.limit, total, pointer)
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
		b.Grow(size)
		for _, bl := range blocks {
			b.WriteString(bl.text)
		}
		return b.String()
	}
	shown := 0
	room := limit - len(truncation(total, total, pointer))
	b.Grow(max(room, 0))
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

// cell makes text safe inside a Markdown table cell, on one line: runs
// of white space (unicode.IsSpace) become one space, and what Markdown or
// its HTML would interpret is escaped.
func cell(s string) string {
	if cellReady(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	space := false // white space after text: one space before the next text
	for i := 0; i < len(s); {
		r, n := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s[i:]) // invalid UTF-8: the byte, kept as it is
		}
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
		default:
			if space {
				b.WriteByte(' ')
				space = false
			}
			if e := mdEscape(s[i]); n == 1 && e != "" {
				b.WriteString(e)
			} else {
				b.WriteString(s[i : i+n])
			}
		}
		i += n
	}
	return b.String()
}

// cellReady reports whether cell would return s as it is: single spaces
// between words, nothing to escape.
func cellReady(s string) bool {
	space := true // a leading space is not ready
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			if space {
				return false
			}
			space = true
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[i:])
			if unicode.IsSpace(r) {
				return false
			}
			i += n - 1
			space = false
		case c < ' ' && unicode.IsSpace(rune(c)), mdEscape(c) != "":
			return false
		default:
			space = false
		}
	}
	return !space || s == ""
}

// mdEscape is the escape of a byte Markdown or its HTML would interpret;
// "" for the others.
func mdEscape(c byte) string {
	switch c {
	case '&':
		return "&amp;"
	case '<':
		return "&lt;"
	case '>':
		return "&gt;"
	case '\\':
		return `\\`
	case '|':
		return `\|`
	case '`':
		return "\\`"
	case '*':
		return `\*`
	case '_':
		return `\_`
	case '[':
		return `\[`
	case ']':
		return `\]`
	}
	return ""
}

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
	d := &doc{limit: MaxSummary}
	d.add(fmt.Sprintf("### %s %s\n\n**%s** in %s (%d tests)\n\n", icon(conc), cell(g.name), countsLine(c), dur(c.Duration), c.Total()), 0)
	if note := r.visualNote(); note != "" {
		d.add(strings.TrimPrefix(note, "\n")+"\n", 0)
	}
	listed := c.Failed + c.Skipped // a row each, shown or not
	if c.Failed > 0 {
		d.add("#### Failed\n\n| Test | Duration | Location | Message |\n| --- | --- | --- | --- |\n", 0)
		for _, f := range g.failures {
			if d.full() {
				break
			}
			d.add(fmt.Sprintf("| %s | %s | %s | %s |\n",
				cell(f.c.Name), dur(f.c.Duration), cell(f.where()), cell(firstLine(f.message, 200))), 1)
		}
		d.add("\n", 0)
	}
	if c.Skipped > 0 {
		d.add("#### Skipped\n\n| Test | Reason |\n| --- | --- |\n", 0)
		for _, k := range g.cases {
			if d.full() {
				break
			}
			if k.Status == Skipped {
				d.add(fmt.Sprintf("| %s | %s |\n", cell(k.Name), cell(firstLine(r.redact(skipReason(k)), 200))), 1)
			}
		}
		d.add("\n", 0)
	}
	if c.Failed > 0 {
		d.add("#### Failure output\n\n", 0)
		for _, f := range g.failures {
			if d.full() {
				break
			}
			d.add(fmt.Sprintf("<details><summary>%s</summary>\n\n%s\n</details>\n\n",
				html.EscapeString(f.c.Name), fence(tail(r.redact(f.c.Output), 2000))), 0)
		}
	}
	return d.render(listed, r.reportURL())
}

// stepSummary is the job summary: one table row per check run, then the
// failed tests.
func (r *Reporter) stepSummary(groups []*group, out *Outcome) string {
	title := "Leviathan test results"
	if r.cfg.DeviceType != "" {
		title += " on " + r.cfg.DeviceType
	}
	d := &doc{limit: MaxStepSummary}
	d.add(fmt.Sprintf("## %s\n\n%s **%s** in %s\n\n| | Check | Passed | Failed | Skipped | Duration |\n| --- | --- | ---: | ---: | ---: | ---: |\n",
		cell(title), icon(out.Conclusion), countsLine(out.Counts), dur(out.Duration)), 0)
	for i, g := range groups {
		c := g.counts()
		name := cell(g.name)
		if i < len(out.CheckRuns) && out.CheckRuns[i].URL != "" {
			name = fmt.Sprintf("[%s](%s)", name, out.CheckRuns[i].URL)
		}
		d.add(fmt.Sprintf("| %s | %s | %d | %d | %d | %s |\n",
			icon(conclusion(c)), name, c.Passed, c.Failed, c.Skipped, dur(c.Duration)), 0)
	}
	d.add("\n", 0)
	failed := 0 // a row each, shown or not
	for _, g := range groups {
		failed += len(g.failures)
	}
	if out.Failed > 0 {
		d.add("### Failed tests\n\n| Check | Test | Location | Message |\n| --- | --- | --- | --- |\n", 0)
		for _, g := range groups {
			check := cell(g.name)
			for _, f := range g.failures {
				if d.full() {
					break
				}
				d.add(fmt.Sprintf("| %s | %s | %s | %s |\n",
					check, cell(f.c.Name), cell(f.where()), cell(firstLine(f.message, 200))), 1)
			}
		}
	}
	if note := r.visualNote(); note != "" {
		d.add(note, 0)
	}
	if out.WorkflowCommands {
		d.add("\n> [!NOTE]\n> The token cannot write check runs (a pull request from a fork?): failures are reported as workflow annotations instead.\n", 0)
	}
	return d.render(failed, r.reportURL())
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
		if _, _, msg, ok := goLine(" " + l); ok {
			return msg
		}
		return l
	}
	return ""
}
