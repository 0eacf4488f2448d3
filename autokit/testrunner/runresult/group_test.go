package runresult

import (
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/balena/leviathan-action/internal/ghlog"
	"github.com/balena/leviathan-action/internal/ghlog/ghlogtest"
	"github.com/balena/leviathan-action/internal/syncio"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", name, got)
	}
}

// testrunnerOutput is testrunner's progress with hostile lines where a
// suite's output goes, and a last line without a line feed.
func testrunnerOutput() string {
	hostile := strings.Join(ghlogtest.Hostile, "\n") + "\n"
	return "suite os\n  ▶ TestBoot\n" + hostile + "  ✓ TestBoot (1.00s)\n" +
		"  ▶ TestNet\n::error::x\n  ✗ TestNet (2.00s)\n      net_test.go:9: no link\n      " + hostile +
		"suite hup\n  ▶ TestHang\n::warning::no line feed"
}

// wantGroups are the only commands the runner may process in
// testrunnerOutput.
var wantGroups = []string{
	"group::os/TestBoot", "endgroup::",
	"group::os/TestNet", "endgroup::",
	"group::hup/TestHang", "endgroup::",
}

// writeInPieces writes s to w in pieces of 1 to 12 bytes, as a stream
// arrives.
func writeInPieces(w io.Writer, s string, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 2))
	for i := 0; i < len(s); {
		n := min(1+r.IntN(12), len(s)-i)
		w.Write([]byte(s[i : i+n]))
		i += n
	}
}

// TestGroupWriter checks what the runner would make of the grouped output:
// the group commands and nothing the container printed, with commands
// resumed at the end.
func TestGroupWriter(t *testing.T) {
	var out strings.Builder
	g := &groupWriter{w: &out}
	writeInPieces(g, testrunnerOutput(), 1)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	l := ghlogtest.Parse(out.String())
	if got := l.Effective(); !slices.Equal(got, wantGroups) {
		t.Errorf("the runner would process %q; want %q", got, wantGroups)
	}
	if l.Stopped {
		t.Error("commands are still stopped after Close")
	}
	golden(t, "group.golden", ghlogtest.Normalize(out.String()))
}

// TestGroupWriterSharedLog is the action's test mode: the container's
// stdout (through groupWriter) and stderr write to one ghlog.Writer at
// once; the group commands go through it and the caller resumes commands.
func TestGroupWriterSharedLog(t *testing.T) {
	var out syncio.Buffer
	log := ghlog.New(&out)
	g := &groupWriter{w: log}
	var wg sync.WaitGroup
	wg.Go(func() { writeInPieces(g, testrunnerOutput(), 2) })
	wg.Go(func() {
		for i := range 10 {
			writeInPieces(log, strings.Join(ghlogtest.Hostile, "\n")+"\n", uint64(i))
		}
	})
	wg.Wait()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	l := ghlogtest.Parse(out.String())
	if got := l.Effective(); !slices.Equal(got, wantGroups) {
		t.Errorf("the runner would process %q; want %q\nlog:\n%s", got, wantGroups, out.String())
	}
	if l.Stopped {
		t.Error("commands are still stopped at the end")
	}
}

// TestGroupTitle: test and suite names come from the testrunner.
func TestGroupTitle(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "os/TestBoot", "os/TestBoot"},
		{"line breaks", "a\rb\nc\u0085d\u2028e\u2029f", "a?b?c?d?e?f"},
		{"escape sequence", "Test\x1b[2J", "Test?[2J"},
		{"NUL and DEL", "a\x00b\x7f", "a?b?"},
		{"format characters", "a\u200bb\u202ec", "a?b?c"},
		{"invalid UTF-8", "a\xffb", "a?b"},
		{"looks like a command", "::warning::x", "::warning::x"},
		{"long", strings.Repeat("é", 300), strings.Repeat("é", maxTitle) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := groupTitle(tc.in); got != tc.want {
				t.Errorf("groupTitle(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestGroupWriterHostileNames: names with control characters give groups
// with clean titles and no other command.
func TestGroupWriterHostileNames(t *testing.T) {
	var out strings.Builder
	g := &groupWriter{w: &out}
	io.WriteString(g, "suite s\x0b::warning::x\n  ▶ T\x1b]0;x\x07::error::y\n  ✓ T\x1b]0;x\x07::error::y (0.00s)\n")
	g.Close()
	l := ghlogtest.Parse(out.String())
	want := []string{"group::s?::warning::x/T?]0;x?::error::y", "endgroup::"}
	if got := l.Effective(); !slices.Equal(got, want) {
		t.Errorf("the runner would process %q; want %q", got, want)
	}
}
