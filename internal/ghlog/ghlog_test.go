package ghlog_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/balena/leviathan-action/internal/ghlog"
	"github.com/balena/leviathan-action/internal/ghlog/ghlogtest"
	"github.com/balena/leviathan-action/internal/syncio"
)

// indentWriter is the filter ghlog replaces: it copies whole lines and
// indents those that start with "::" by one space. The runner trims
// leading whitespace first, so it protects nothing; TestHostile shows the
// model catches it.
type indentWriter struct {
	w   io.Writer
	buf []byte
}

func (i *indentWriter) Write(p []byte) (int, error) {
	i.buf = append(i.buf, p...)
	for {
		n := bytes.IndexByte(i.buf, '\n')
		if n < 0 {
			return len(p), nil
		}
		i.line(string(i.buf[:n]))
		i.buf = i.buf[n+1:]
	}
}

func (i *indentWriter) line(l string) {
	if strings.HasPrefix(l, "::") {
		l = " " + l
	}
	io.WriteString(i.w, l+"\n")
}

func (i *indentWriter) Close() error {
	if len(i.buf) > 0 {
		i.line(string(i.buf))
	}
	return nil
}

// TestHostile writes the hostile lines, in odd pieces and without a final
// line feed, between trusted group commands, and checks what the runner
// would process.
func TestHostile(t *testing.T) {
	hostile := strings.Join(ghlogtest.Hostile, "\n") + "\n::error::unterminated"
	groups := []string{"group::a", "endgroup::", "group::b", "endgroup::"}
	for _, tc := range []struct {
		name string
		// wrap returns the untrusted writer over the log and how trusted
		// code writes a command.
		wrap func(log io.Writer) (io.WriteCloser, func(string))
		safe bool
	}{
		{"ghlog.Writer", func(log io.Writer) (io.WriteCloser, func(string)) {
			u := ghlog.New(log)
			return u, func(c string) {
				if err := u.Command(c); err != nil {
					t.Fatal(err)
				}
			}
		}, true},
		{"old filter: leading space before ::", func(log io.Writer) (io.WriteCloser, func(string)) {
			return &indentWriter{w: log}, func(c string) { io.WriteString(log, c+"\n") }
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			u, command := tc.wrap(&log)
			for _, g := range groups {
				command("::" + g)
				for i := 0; i < len(hostile); i += 5 {
					u.Write([]byte(hostile[i:min(i+5, len(hostile))]))
				}
			}
			u.Close()
			l := ghlogtest.Parse(log.String())
			got := l.Effective()
			if !tc.safe {
				if slices.Equal(got, groups) {
					t.Fatalf("the model finds no injected command in:\n%s", log.String())
				}
				t.Logf("injected through the old filter: %q", got)
				return
			}
			if !slices.Equal(got, groups) {
				t.Errorf("the runner would process %q; want only %q\nlog:\n%s", got, groups, log.String())
			}
			if l.Stopped {
				t.Errorf("commands are still stopped at the end:\n%s", log.String())
			}
			if !strings.Contains(log.String(), "\n::error::unterminated\n::") {
				t.Errorf("the unfinished line is not ended before the resume:\n%s", log.String())
			}
		})
	}
}

// TestConcurrent writes hostile lines from two goroutines (a container's
// stdout and stderr) in random pieces while a third issues group commands;
// run with -race.
func TestConcurrent(t *testing.T) {
	var log syncio.Buffer
	u := ghlog.New(&log)
	hostile := strings.Join(ghlogtest.Hostile, "\n") + "\n"
	var wg sync.WaitGroup
	for seed := range uint64(2) {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, 1))
			for range 20 {
				for i := 0; i < len(hostile); {
					n := min(1+r.IntN(12), len(hostile)-i)
					u.Write([]byte(hostile[i : i+n]))
					i += n
				}
			}
		})
	}
	var want []string
	wg.Go(func() {
		for i := range 50 {
			c := "group::g" + string(rune('a'+i%26))
			if err := u.Command("::" + c); err != nil {
				t.Error(err)
			}
		}
	})
	for i := range 50 {
		want = append(want, "group::g"+string(rune('a'+i%26)))
	}
	wg.Wait()
	u.Close()
	l := ghlogtest.Parse(log.String())
	if got := l.Effective(); !slices.Equal(got, want) {
		t.Errorf("the runner would process %q; want only the 50 groups", got)
	}
	if l.Stopped {
		t.Error("commands are still stopped at the end")
	}
	toks := l.Tokens()
	seen := map[string]bool{}
	for _, tok := range toks {
		if len(tok) < 26 || seen[tok] {
			t.Errorf("token %q is short or reused", tok)
		}
		seen[tok] = true
	}
}

// TestOutput pins the exact lines written.
func TestOutput(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(u *ghlog.Writer)
		want string
	}{
		{"nothing", func(u *ghlog.Writer) {}, ""},
		{"command only", func(u *ghlog.Writer) { u.Command("::group::g") }, "::group::g\n"},
		{"text", func(u *ghlog.Writer) { u.Write([]byte("a\n")) },
			"::stop-commands::TOKEN1\na\n::TOKEN1::\n"},
		{"unfinished line", func(u *ghlog.Writer) { u.Write([]byte("a")) },
			"::stop-commands::TOKEN1\na\n::TOKEN1::\n"},
		{"lone CR", func(u *ghlog.Writer) { u.Write([]byte("a\r")) },
			"::stop-commands::TOKEN1\na\r\n::TOKEN1::\n"},
		{"group around text", func(u *ghlog.Writer) {
			u.Command("::group::g")
			u.Write([]byte("a\nb"))
			u.Write([]byte("c\n"))
			u.Command("::endgroup::")
			u.Write([]byte("d\n"))
		}, "::group::g\n::stop-commands::TOKEN1\na\nbc\n::TOKEN1::\n::endgroup::\n::stop-commands::TOKEN2\nd\n::TOKEN2::\n"},
		{"usable after Close", func(u *ghlog.Writer) {
			u.Write([]byte("a\n"))
			u.Close()
			u.Close()
			u.Write([]byte("b\n"))
		}, "::stop-commands::TOKEN1\na\n::TOKEN1::\n::stop-commands::TOKEN2\nb\n::TOKEN2::\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			u := ghlog.New(&log)
			tc.do(u)
			if err := u.Close(); err != nil {
				t.Fatal(err)
			}
			if got := ghlogtest.Normalize(log.String()); got != tc.want {
				t.Errorf("got:\n%q\nwant:\n%q", got, tc.want)
			}
		})
	}
}

func TestCommandSpansLines(t *testing.T) {
	var log strings.Builder
	u := ghlog.New(&log)
	u.Write([]byte("a\n"))
	for _, c := range []string{"::group::a\n::warning::x", "::group::a\r::warning::x"} {
		if err := u.Command(c); err == nil || !strings.HasPrefix(err.Error(), "ghlog: ") {
			t.Errorf("Command(%q) = %v; want a ghlog error", c, err)
		}
	}
	u.Close()
	if got := ghlogtest.Parse(log.String()).Effective(); len(got) != 0 {
		t.Errorf("commands %q processed", got)
	}
}

type failWriter struct{ n int }

var errBroken = errors.New("broken pipe")

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errBroken
	}
	f.n--
	return len(p), nil
}

// TestWriteError: no untrusted byte is written unless the stop line was.
func TestWriteError(t *testing.T) {
	u := ghlog.New(&failWriter{})
	n, err := u.Write([]byte("::warning::x\n"))
	if n != 0 || !errors.Is(err, errBroken) || !strings.HasPrefix(err.Error(), "ghlog: ") {
		t.Errorf("Write = %d, %v; want 0 and a ghlog error wrapping the writer's", n, err)
	}
	if err := ghlog.New(&failWriter{}).Command("::group::g"); !errors.Is(err, errBroken) {
		t.Errorf("Command = %v", err)
	}
	u = ghlog.New(&failWriter{n: 2})
	u.Write([]byte("a\n"))
	if err := u.Close(); !errors.Is(err, errBroken) {
		t.Errorf("Close = %v", err)
	}
}
