package runresult

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/balena/leviathan-action/internal/ghlog"
)

var (
	suiteLine   = regexp.MustCompile(`^suite (\S+)$`)
	startLine   = regexp.MustCompile(`^  ▶ (\S+)$`)
	resultLine  = regexp.MustCompile(`^  [✓✗–] (\S+)`)
	summaryLine = regexp.MustCompile(`^\d+ passed, \d+ failed, \d+ skipped$`)
)

// commandLog is a job log that takes untrusted text through Write, with
// workflow commands stopped, and trusted commands through Command:
// *ghlog.Writer.
type commandLog interface {
	io.Writer
	Command(line string) error
}

var _ commandLog = (*ghlog.Writer)(nil)

// groupWriter copies testrunner's stdout line by line and wraps each
// top-level test in GitHub Actions log groups: "::group::suite/Test" when
// the test starts ("  ▶ Test"), "::endgroup::" before its result line, so
// results and failure details stay visible.
//
// Everything the container prints is untrusted. When w is a commandLog
// (the *ghlog.Writer the container's stderr shares), the lines go through
// its Write and the group commands through its Command; otherwise
// groupWriter wraps w in a ghlog.Writer of its own and Close resumes
// commands. Either way the runner processes no workflow command in the
// container's output, and the group titles, made of names the container
// prints, are cleaned of control characters.
type groupWriter struct {
	mu    sync.Mutex
	w     io.Writer  // the job log
	log   commandLog // w, or a ghlog.Writer over it; set on first use
	own   *ghlog.Writer
	buf   []byte
	suite string
	open  string // the test whose group is open
}

// NewGroupWriter returns a writer that copies testrunner output to w with
// each top-level test in a log group (see groupWriter); Close ends an open
// group and, unless w is a *ghlog.Writer, resumes workflow commands.
func NewGroupWriter(w io.Writer) io.WriteCloser { return &groupWriter{w: w} }

func (g *groupWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	g.buf = append(g.buf, p...)
	for {
		i := bytes.IndexByte(g.buf, '\n')
		if i < 0 {
			break
		}
		if err := g.line(string(g.buf[:i])); err != nil {
			return len(p), err
		}
		g.buf = g.buf[i+1:]
	}
	return len(p), nil
}

// Close writes a pending partial line, closes an open group and, when the
// ghlog.Writer is groupWriter's own, resumes workflow commands.
func (g *groupWriter) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	var err error
	if len(g.buf) > 0 {
		err = g.line(string(g.buf))
		g.buf = nil
	}
	if eerr := g.end(); err == nil {
		err = eerr
	}
	if g.own != nil {
		if cerr := g.own.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

func (g *groupWriter) init() {
	if g.log != nil {
		return
	}
	if l, ok := g.w.(commandLog); ok {
		g.log = l
		return
	}
	g.own = ghlog.New(g.w)
	g.log = g.own
}

func (g *groupWriter) end() error {
	if g.open == "" {
		return nil
	}
	g.open = ""
	return g.log.Command("::endgroup::")
}

func (g *groupWriter) line(l string) error {
	if m := suiteLine.FindStringSubmatch(l); m != nil {
		g.end()
		g.suite = m[1]
	} else if m := startLine.FindStringSubmatch(l); m != nil {
		g.end()
		g.open = m[1]
		title := m[1]
		if g.suite != "" {
			title = g.suite + "/" + title
		}
		// The group's title stands for the start line.
		return g.log.Command("::group::" + groupTitle(title))
	} else if m := resultLine.FindStringSubmatch(l); m != nil && m[1] == g.open {
		g.end()
	} else if summaryLine.MatchString(l) {
		g.end()
	}
	_, err := io.WriteString(g.log, l+"\n")
	return err
}

// maxTitle bounds a group title, in runes.
const maxTitle = 200

// groupTitle makes a title from names the container printed safe to put in
// a ::group:: command: one line with no control or invisible format
// characters (which the runner could split lines at, or a terminal
// interpret), valid UTF-8, at most maxTitle runes.
func groupTitle(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxTitle {
			b.WriteString("…")
			break
		}
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Cf, r),
			unicode.In(r, unicode.Zl, unicode.Zp):
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
