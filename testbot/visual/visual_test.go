package visual

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/session"
	"github.com/balena/leviathan-action/suites/gotest"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// reportDir writes what a run leaves: events.json (two tests, one failing
// with a screenshot, one subtest), a session recording (console in pieces
// across test spans, a reboot, power, flash, a suite's screenshot) and
// screens/.
func reportDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ev := func(sec float64, action, test, out string) string {
		return fmt.Sprintf(`{"Time":%q,"Action":%q,"Package":"os","Test":%q,"Output":%q}`+"\n",
			t0.Add(time.Duration(sec*float64(time.Second))).Format(time.RFC3339Nano), action, test, out)
	}
	events := ev(20, "run", "TestA", "") + ev(20.5, "output", "TestA", "=== RUN   TestA\n") + ev(22, "pass", "TestA", "") +
		ev(22, "run", "TestB", "") + ev(22.1, "run", "TestB/sub", "") + ev(23, "output", "TestB/sub", "b_test.go:9: boom\n") +
		ev(23, "fail", "TestB/sub", "") + ev(30, "fail", "TestB", "") + `{"Action":"output","Package":"os","Output":"FAIL\n"}` + "\n"
	os.WriteFile(filepath.Join(dir, "events.json"), []byte(events), 0o644)
	os.WriteFile(filepath.Join(dir, "summary.json"), []byte(`{"passed":1,"failed":1,"tests":[]}`), 0o644)
	png := []byte("\x89PNG failure")
	rec := &session.Recording{Header: session.Header{Version: session.Version, Started: t0, Worker: "bot-1", DUT: "qemu", Capabilities: []string{"screen", "serial"}}, Events: []session.Event{
		{T: sd(1), Kind: session.KindFlash, What: "start", Total: 100},
		{T: sd(2), Kind: session.KindFlash, What: "done", Bytes: 100, Total: 100},
		{T: sd(3), Kind: session.KindPower, What: "on"},
		{T: sd(4), Kind: session.KindConsole, Data: []byte("Linux version 6.1\nboo")},
		{T: sd(5), Kind: session.KindConsole, Data: []byte("ted\n")},
		{T: sd(21), Kind: session.KindConsole, Data: []byte("during A\n")},
		{T: sd(25), Kind: session.KindConsole, Data: []byte("Linux version 6.1\nduring B\n")},
		{T: sd(26), Kind: session.KindScreen, Seq: 7, Data: png}, // a suite took the same picture earlier
		{T: sd(30.5), Kind: session.KindScreen, Seq: 9, Data: png},
		{T: sd(40), Kind: session.KindConsole, Data: []byte("after")},
	}}
	var buf bytes.Buffer
	if err := session.Encode(&buf, rec); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, session.FileName), buf.Bytes(), 0o644)
	os.MkdirAll(filepath.Join(dir, gotest.ScreensDir), 0o755)
	os.WriteFile(filepath.Join(dir, "screens", "01-os-TestB.png"), png, 0o644)
	os.WriteFile(filepath.Join(dir, gotest.ScreensDir, gotest.ScreensIndex),
		fmt.Appendf(nil, `[{"suite":"os","test":"TestB","time":%q,"file":"screens/01-os-TestB.png"}]`, t0.Add(30500*time.Millisecond).Format(time.RFC3339Nano)), 0o644)
	return dir
}

func sd(sec float64) session.Duration {
	return session.Duration(time.Duration(sec * float64(time.Second)))
}

func TestIndexData(t *testing.T) {
	dir := reportDir(t)
	d, err := indexData(dir, Index{Title: "run", Failure: ""})
	if err != nil {
		t.Fatal(err)
	}
	if d.OK {
		t.Error("a run with a failed test is OK")
	}
	var names []string
	for _, x := range d.Tests {
		names = append(names, fmt.Sprintf("%s/%s %s %v-%v console %d:%d screen %d", x.Suite, x.Name, x.Result,
			x.Start.Sub(t0).Seconds(), x.End.Sub(t0).Seconds(), x.ConsoleFrom, x.ConsoleTo, x.Screen))
	}
	want := []string{
		"os/TestA pass 20-22 console 2:3 screen -1",
		"os/TestB fail 22-30 console 3:5 screen 1",
		"os/TestB/sub fail 22.1-23 console 3:3 screen -1",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("tests:\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(d.Tests[2].Output, "b_test.go:9: boom") || !strings.Contains(d.Tests[0].Output, "=== RUN   TestA") {
		t.Errorf("outputs: %q, %q", d.Tests[0].Output, d.Tests[2].Output)
	}
	var lines []string
	for _, l := range d.Console {
		lines = append(lines, fmt.Sprintf("%v %s", l.T.Sub(t0).Seconds(), l.Text))
	}
	wantLines := "4 Linux version 6.1|5 booted|21 during A|25 Linux version 6.1|25 during B|40 after"
	if got := strings.Join(lines, "|"); got != wantLines {
		t.Errorf("console = %s\nwant      %s", got, wantLines)
	}
	var marks []string
	for _, m := range d.Power {
		marks = append(marks, fmt.Sprintf("%v %s", m.T.Sub(t0).Seconds(), m.What))
	}
	if got := strings.Join(marks, "|"); got != "3 on|25 reboot" {
		t.Errorf("power marks = %s, want 3 on|25 reboot", got)
	}
	if len(d.Flash) != 2 || d.Flash[1].Bytes != 100 {
		t.Errorf("flash samples = %+v", d.Flash)
	}
	// The failure's screenshot replaces the recording's copy of it; the
	// suite's own stays.
	if len(d.Screens) != 2 || d.Screens[1].Test != "os/TestB" || d.Screens[0].Test != "" {
		t.Errorf("screens = %+v", d.Screens)
	}
	facts := map[string]string{}
	for _, f := range d.Facts {
		facts[f.Name] = f.Value
	}
	if facts["worker"] != "bot-1" || facts["capabilities"] != "screen, serial" || facts["leviathan"] == "" {
		t.Errorf("facts = %v", facts)
	}
}

// Without a recording the console comes from serial.log, without times
// and so without spans; without anything the report still says what is
// known.
func TestIndexDataWithoutARecording(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "serial.log"), []byte("one\ntwo\n"), 0o644)
	d, err := indexData(dir, Index{Failure: `stage "flash": no space`})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Console) != 2 || d.Console[1].Text != "two" || len(d.Tests) != 0 || d.OK {
		t.Errorf("data = %+v", d)
	}
	if err := WriteIndex(dir, Index{Failure: `stage "flash": no space`}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil || !bytes.Contains(b, []byte("no space")) {
		t.Errorf("index.html does not name the failure: %v", err)
	}
	empty := t.TempDir()
	if err := WriteIndex(empty, Index{}); err != nil {
		t.Fatalf("an empty report directory: %v", err)
	}
}

func TestIndexDataRefusesABrokenRecording(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, session.FileName), []byte("not gzip"), 0o644)
	if _, err := indexData(dir, Index{}); err == nil || !strings.Contains(err.Error(), session.FileName) {
		t.Fatalf("err = %v, want one naming %s", err, session.FileName)
	}
}
