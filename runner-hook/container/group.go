package container

import (
	"bytes"
	"io"
	"regexp"
	"sync"
)

var (
	suiteLine   = regexp.MustCompile(`^suite (\S+)$`)
	startLine   = regexp.MustCompile(`^  ▶ (\S+)$`)
	resultLine  = regexp.MustCompile(`^  [✓✗–] (\S+)`)
	summaryLine = regexp.MustCompile(`^\d+ passed, \d+ failed, \d+ skipped$`)
)

// groupWriter copies testrunner's stdout line by line and wraps each
// top-level test in GitHub Actions log groups: "::group::suite/Test" when
// the test starts ("  ▶ Test"), "::endgroup::" before its result line, so
// results and failure details stay visible. Lines from the container that
// start with "::" are indented by one space, so they cannot issue workflow
// commands.
type groupWriter struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	suite string
	open  string // the test whose group is open
}

func (g *groupWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
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

// Close writes a pending partial line and closes an open group.
func (g *groupWriter) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.buf) > 0 {
		g.line(string(g.buf))
		g.buf = nil
	}
	return g.end()
}

func (g *groupWriter) end() error {
	if g.open == "" {
		return nil
	}
	g.open = ""
	_, err := io.WriteString(g.w, "::endgroup::\n")
	return err
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
		_, err := io.WriteString(g.w, "::group::"+title+"\n")
		return err
	} else if m := resultLine.FindStringSubmatch(l); m != nil && m[1] == g.open {
		g.end()
	} else if summaryLine.MatchString(l) {
		g.end()
	}
	if len(l) >= 2 && l[:2] == "::" {
		l = " " + l
	}
	_, err := io.WriteString(g.w, l+"\n")
	return err
}

// tail keeps the last bytes written to it, as evidence for errors.
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
