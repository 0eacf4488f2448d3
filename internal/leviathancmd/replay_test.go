package leviathancmd

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/session"
	"github.com/balena/leviathan-action/autokit/session/replay"
	"github.com/balena/leviathan-action/internal/syncio"
	"github.com/balena/leviathan-action/suites/gotest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// writeSession encodes rec as dir/session.jsonl.gz and returns its path.
func writeSession(t *testing.T, dir string, rec *session.Recording) string {
	t.Helper()
	var b bytes.Buffer
	if err := session.Encode(&b, rec); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, session.FileName)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReplayUsage(t *testing.T) {
	dir := t.TempDir()
	sess := writeSession(t, dir, &session.Recording{Header: session.Header{Version: session.Version}})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no session", []string{"--suite", "x"}, "want one SESSION"},
		{"two sessions", []string{sess, sess, "--suite", "x"}, "want one SESSION"},
		{"no suite", []string{sess}, "name the suites to replay: --suite DIR"},
		{"serve with a suite", []string{sess, "--serve", "--suite", "x"}, "--serve runs no suite"},
		{"reports over the recorded run's", []string{sess, "--suite", "x", "--reports", dir}, "holds the recorded run's reports"},
		{"bad flag", []string{sess, "--no-such-flag"}, "flag provided but not defined"},
		{"bad listen address", []string{sess, "--serve", "--listen", "256.0.0.1:0"}, "--listen 256.0.0.1:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, t.Context(), append([]string{"replay"}, tc.args...)...)
			if code != ExitUsage || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("exit %d, want %d and %q in the output", code, ExitUsage, tc.want)
			}
		})
	}
	code, _, errOut := runCLI(t, t.Context(), "replay", "-h")
	if code != 0 || !strings.Contains(errOut, "usage: leviathan replay SESSION") || !strings.Contains(errOut, "-serve") {
		t.Errorf("replay -h: exit %d", code)
	}
}

// TestReplayBadInput: each bad input is named, with what to do, and
// exits 1.
func TestReplayBadInput(t *testing.T) {
	dir := t.TempDir()
	notGzip := filepath.Join(dir, "notgzip.jsonl.gz")
	os.WriteFile(notGzip, []byte(`{"version":1}`+"\n"), 0o644)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"version":99}` + "\n"))
	zw.Close()
	otherVersion := filepath.Join(dir, "v99.jsonl.gz")
	os.WriteFile(otherVersion, gz.Bytes(), 0o644)
	good := writeSession(t, dir, &session.Recording{Header: session.Header{Version: session.Version}})
	truncated := filepath.Join(dir, "truncated.jsonl.gz")
	b, _ := os.ReadFile(good)
	os.WriteFile(truncated, b[:len(b)/2], 0o644)
	badSummaryDir := t.TempDir()
	badSummary := writeSession(t, badSummaryDir, &session.Recording{Header: session.Header{Version: session.Version}})
	os.WriteFile(filepath.Join(badSummaryDir, "summary.json"), []byte("not json"), 0o644)
	broken := filepath.Join(t.TempDir(), "broken")
	os.MkdirAll(broken, 0o755)
	os.WriteFile(filepath.Join(broken, "x_test.go"), []byte("package broken\n\nfunc TestX(t *testing.T) { undefined() }\n"), 0o644)

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing session", []string{filepath.Join(dir, "nope.jsonl.gz"), "--suite", "x"}, "no such file; pass the session.jsonl.gz a run left in its report directory"},
		{"session is a directory", []string{dir, "--suite", "x"}, "is a directory; pass the session.jsonl.gz in it"},
		{"not gzip", []string{notGzip, "--suite", "x"}, "is not a session recording a replay can read"},
		{"truncated", []string{truncated, "--suite", "x"}, "is not a session recording a replay can read"},
		{"another version", []string{otherVersion, "--suite", "x"}, "format version 99, this program reads version 1"},
		{"corrupt summary", []string{badSummary, "--suite", "x"}, "is not a run's summary.json"},
		{"suite is not a test package", []string{good, "--suite", dir, "--reports", t.TempDir()}, "is not a Go test package"},
		{"suite does not compile", []string{good, "--suite", broken, "--reports", t.TempDir()}, "does not compile; fix it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, t.Context(), append([]string{"replay"}, tc.args...)...)
			if code != ExitTestsFailed || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want %d and %q on stderr", code, ExitTestsFailed, tc.want)
			}
		})
	}
}

// fixtureRecording is what a direct run of testdata/replaysuite recorded:
// the testbot's calls before the suites (its own view of the DUT, its wait
// for the boot), each test's console reads by the testbot around the
// suite's calls, and the testbot's fetch of the console afterwards.
func fixtureRecording(t *testing.T, dir string) string {
	t.Helper()
	started := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rec := &session.Recording{Header: session.Header{Version: session.Version, Started: started, Worker: "testbot-1", DUT: "qemu0", ConsoleStart: 1000}}
	seq := 0
	at := func(s float64) session.Duration { return session.Duration(time.Duration(s * float64(time.Second))) }
	call := func(t float64, method, path, query, body string, status int, ctype, resp string) {
		seq++
		rec.Events = append(rec.Events, session.Event{T: at(t), Kind: session.KindCall, Call: &session.Call{Seq: seq,
			Method: method, Path: path, Query: query, Body: []byte(body), Status: status, ContentType: ctype, Response: []byte(resp),
			Elapsed: session.Duration(50 * time.Millisecond)}})
	}
	console := func(t float64, off int64, s string) {
		rec.Events = append(rec.Events, session.Event{T: at(t), Kind: session.KindConsole, Offset: off, Data: []byte(s)})
	}
	exec := func(t float64, cmd, out string) {
		var resp bytes.Buffer
		json.NewEncoder(&resp).Encode(api.ExecFrame{Stream: api.StreamStdout, Data: []byte(out)})
		zero := 0
		json.NewEncoder(&resp).Encode(api.ExecFrame{ExitCode: &zero})
		body, _ := json.Marshal(api.ExecRequest{Command: cmd, TimeoutSeconds: 119.993})
		call(t, "POST", api.PathExec, "", string(body), 200, api.ContentTypeNDJSON, resp.String())
	}
	const end = "offset=4611686018427387904"
	console(0.5, 1000, "boot banner\nlogin: ") // 19 bytes
	call(1, "GET", api.PathDUT, "", "", 200, api.ContentTypeJSON, `{"name":"qemu0","capabilities":[],"ssh_user":"root"}`)
	call(1.5, "POST", api.PathWaitOnline, "", `{"timeout_seconds":180}`, 200, api.ContentTypeJSON, `{"seconds":1.2}`)
	// The suites run from 2 s to 5 s.
	call(2.05, "GET", api.PathSerial, end, "", 200, api.ContentTypeText, "")
	call(2.1, "GET", api.PathDUT, "", "", 200, api.ContentTypeJSON, `{"name":"qemu0","capabilities":["power","console","network"],"ssh_user":"root"}`)
	exec(2.2, "uname -r", "6.1.0-leviathan\n")
	call(2.3, "GET", api.PathSerial, "offset=1019", "", 200, api.ContentTypeText, "")
	call(3.0, "GET", api.PathSerial, end, "", 200, api.ContentTypeText, "")
	exec(3.1, "echo hello", "hello\n")
	call(3.2, "GET", api.PathSerial, "offset=1019", "", 200, api.ContentTypeText, "")
	console(3.5, 1019, "motd\n") // the console moved on between the tests
	call(4.0, "GET", api.PathSerial, end, "", 200, api.ContentTypeText, "")
	call(4.1, "GET", api.PathSerial, end, "", 200, api.ContentTypeText, "")
	call(4.2, "POST", api.PathSerialWrite, "", "\recho serial-$((6*7))\r", 204, "", "")
	console(4.25, 1024, "echo serial-42\r\nserial-42\r\n")
	call(4.3, "POST", api.PathSerialExpect, "", `{"pattern":"serial-42","offset":1024,"timeout_seconds":30}`, 200, api.ContentTypeJSON, `{"offset":1049,"match":"serial-42"}`)
	call(4.4, "GET", api.PathSerial, "offset=1024", "", 200, api.ContentTypeText, "echo serial-42\r\nserial-42\r\n")
	call(6, "GET", api.PathSerial, "offset=0", "", 200, api.ContentTypeText, "boot banner\nlogin: motd\necho serial-42\r\nserial-42\r\n")
	p := writeSession(t, dir, rec)
	var events bytes.Buffer
	for _, ev := range []struct {
		at     float64
		action string
		test   string
	}{{2, "run", "TestKernel"}, {2.25, "pass", "TestKernel"}, {2.9, "run", "TestGreeting"}, {3.15, "pass", "TestGreeting"}, {3.95, "run", "TestConsole"}, {4.35, "pass", "TestConsole"}} {
		json.NewEncoder(&events).Encode(map[string]any{"Time": started.Add(at(ev.at).D()), "Action": ev.action, "Package": "replaysuite", "Test": ev.test})
	}
	os.WriteFile(filepath.Join(dir, "events.json"), events.Bytes(), 0o644)
	sum := map[string]any{
		"passed": 3, "seconds": 3.0, "started": started.Add(2 * time.Second), "finished": started.Add(5 * time.Second),
		"tests": []gotest.TestResult{
			{Suite: "replaysuite", Name: "TestKernel", Result: "pass", Seconds: 0.1},
			{Suite: "replaysuite", Name: "TestGreeting", Result: "pass", Seconds: 0.1},
			{Suite: "replaysuite", Name: "TestConsole", Result: "pass", Seconds: 0.4},
		},
		"timings": map[string]float64{"total": 95.5, "suites": 3.0},
	}
	b, _ := json.MarshalIndent(sum, "", "  ")
	os.WriteFile(filepath.Join(dir, "summary.json"), b, 0o644)
	return p
}

// TestReplayFixture replays a small suite from a recording: as recorded
// (every result equal, exit 0, the speed-up printed, reports beside the
// session with each test's console excerpt), and changed (a divergence
// naming the call and what was recorded, exit 1).
func TestReplayFixture(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a suite; skipped with -short")
	}
	suite := filepath.Join("testdata", "replaysuite")

	t.Run("as recorded", func(t *testing.T) {
		dir := t.TempDir()
		sess := fixtureRecording(t, dir)
		code, out, _ := runCLI(t, t.Context(), "replay", sess, "--suite", suite)
		if code != 0 {
			t.Fatalf("exit %d, want 0", code)
		}
		for _, want := range []string{
			"replaying " + sess + " (recorded 2026-03-01",
			"on testbot-1 qemu0, 12 calls to answer from)",
			"replaysuite/TestConsole   PASS      PASS",
			"every result equals the recorded run's, and the replay did not diverge",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the output lacks %q", want)
			}
		}
		if !regexp.MustCompile(`recorded: suites 3\.0s \(whole run 95\.5s\); [0-9.]+× faster`).MatchString(out) {
			t.Error("the output does not compare the replay's time with the recorded run's")
		}
		reports, _ := filepath.Glob(filepath.Join(dir, "replay-*"))
		if len(reports) != 1 {
			t.Fatalf("report directories beside the session: %v", reports)
		}
		if b, err := os.ReadFile(filepath.Join(reports[0], "tests", "replaysuite", "TestConsole.serial.log")); err != nil || string(b) != "echo serial-42\r\nserial-42\r\n" {
			t.Errorf("TestConsole's console excerpt: %q, %v", b, err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "summary.json")); !bytes.Contains(b, []byte(`"total": 95.5`)) {
			t.Error("the recorded run's summary.json was overwritten")
		}
	})

	t.Run("one test", func(t *testing.T) {
		// The testbot's reads of the console as the tests left out began
		// answer none of TestConsole's.
		sess := fixtureRecording(t, t.TempDir())
		code, out, _ := runCLI(t, t.Context(), "replay", sess, "--suite", suite, "--run", "TestConsole", "--reports", t.TempDir())
		if code != 0 {
			t.Fatalf("exit %d, want 0", code)
		}
		for _, want := range []string{
			"replaysuite/TestKernel    PASS      not run (--run)",
			"replaysuite/TestConsole   PASS      PASS",
			"recorded: the same tests 0.40s",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the output lacks %q", want)
			}
		}
	})

	t.Run("changed suite", func(t *testing.T) {
		t.Setenv("REPLAY_FIXTURE_GREETING", "bonjour")
		dir := t.TempDir()
		sess := fixtureRecording(t, dir)
		reports := t.TempDir()
		code, out, errOut := runCLI(t, t.Context(), "replay", sess, "--suite", suite, "--reports", reports)
		if code != ExitTestsFailed {
			t.Fatalf("exit %d, want %d", code, ExitTestsFailed)
		}
		for _, want := range []string{
			`first divergence: replay: the recording holds no call POST /v1/exec {"command":"echo bonjour"}`,
			`the last call that matched was #5 POST /v1/exec {"command":"uname -r"}`,
			`the recording held next #8 POST /v1/exec {"command":"echo hello"}`,
			"replaysuite/TestGreeting  PASS      FAIL      ≠",
			"replaysuite/TestConsole   PASS      PASS",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the output lacks %q", want)
			}
		}
		if !strings.Contains(errOut, "1 result(s) differ from the recorded run; the replay diverged 1 time(s)") {
			t.Error("stderr does not say why the replay failed")
		}
		if _, err := os.Stat(filepath.Join(reports, "summary.json")); err != nil {
			t.Errorf("no reports in --reports: %v", err)
		}
	})
}

// TestReplayReport holds the end-of-replay report to its golden file.
func TestReplayReport(t *testing.T) {
	rec := &recordedRun{Seconds: 95.25, Tests: []gotest.TestResult{
		{Suite: "os", Name: "TestOSRelease", Result: "pass", Seconds: 0.5},
		{Suite: "os", Name: "TestSSHKeyOnlyAuth", Result: "pass", Seconds: 1.5},
		{Suite: "os", Name: "TestHardPowerCut", Result: "pass", Seconds: 30},
		{Suite: "os", Name: "TestScreenshot", Result: "skip"},
	}}
	rec.Timings.Total = 151.5
	sum := &gotest.Summary{Tests: []gotest.TestResult{
		{Suite: "os", Name: "TestOSRelease", Result: "pass"},
		{Suite: "os", Name: "TestSSHKeyOnlyAuth", Result: "fail"},
		{Suite: "os", Name: "TestScreenshot", Result: "skip"},
		{Suite: "os", Name: "TestNew", Result: "pass"},
	}}
	var b bytes.Buffer
	for _, r := range []replayReport{
		{Rows: compareResults(rec, sum, false), Recorded: rec, Seconds: 4.5, Reports: "reports/replay-1",
			Divergences: []replay.Divergence{{Message: `replay: the recording holds no call POST /v1/exec {"command":"echo changed"}`}, {Message: "second"}}},
		{Rows: compareResults(rec, sum, true), Recorded: rec, Seconds: 0.5, Reports: "reports/replay-2", Unused: 2, Filtered: true,
			Notes: []replay.Divergence{{Message: "replay: tunnel to port 22222 (#9 GET /v1/tunnel?port=22222): the caller sent different bytes at byte 3"}}},
		{Rows: compareResults(nil, sum, false), Seconds: 1, Reports: "reports/replay-3", Errors: []string{"suite os: signal: killed"}},
	} {
		r.write(&b)
	}
	golden := filepath.Join("testdata", "replay-report.golden")
	if *update {
		os.WriteFile(golden, b.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("the report differs from %s (run with -update to accept):\n%s", golden, b.String())
	}
}

// TestReplayServe: --serve prints the environment a suite needs, answers
// a suite started by hand (under a debugger), starts over when the suite
// opens the DUT again, and on Ctrl-C exits 0, or 1 after a divergence.
func TestReplayServe(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cmd     string
		code    int
		summary string
	}{
		{"as recorded", "uname -r", 0, ""},
		{"diverged", "uname -a", ExitTestsFailed, `first divergence: replay: the recording holds no call POST /v1/exec {"command":"uname -a"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess := fixtureRecording(t, t.TempDir())
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var out, errOut syncio.Buffer
			done := make(chan int, 1)
			go func() {
				done <- Env{Stdout: &out, Stderr: &errOut, Args: []string{"replay", sess, "--serve", "--run", "TestKernel"}}.Execute(ctx)
			}()
			re := regexp.MustCompile(`export LEVIATHAN_WORKER_URL=(\S+) LEVIATHAN_LEASE=(\S+)`)
			var m []string
			for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				m = re.FindStringSubmatch(out.String())
			}
			if m == nil {
				t.Fatalf("--serve printed no environment:\n%s%s", out.String(), errOut.String())
			}
			if !strings.Contains(out.String(), "-test.run 'TestKernel'") {
				t.Errorf("--serve does not pass --run on to the suite's command line:\n%s", out.String())
			}
			c, err := client.New(m[1], client.WithLease(m[2]))
			if err != nil {
				t.Fatal(err)
			}
			for run := range 2 { // the second run starts the replay over
				if _, err := c.Contract(t.Context()); err != nil {
					t.Fatalf("run %d: contract: %v", run, err)
				}
				got, _, err := c.ExecOutput(t.Context(), tc.cmd)
				if tc.code == 0 && (err != nil || got != "6.1.0-leviathan\n") {
					t.Fatalf("run %d: exec answered %q, %v", run, got, err)
				}
			}
			cancel()
			code := <-done
			t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
			if code != tc.code || !strings.Contains(out.String(), tc.summary) {
				t.Errorf("exit %d, want %d and %q", code, tc.code, tc.summary)
			}
		})
	}
}

// TestReplayOnQEMU records a QEMU run of suites/os with `leviathan run`,
// replays it with the same suite (every result equal, exit 0, faster), and
// with a changed copy whose test runs another command (exit 1, the
// divergence naming the call and what the recording held).
func TestReplayOnQEMU(t *testing.T) {
	needQEMU(t)
	testImage(t, false)
	root := repoRoot(t)
	suite := filepath.Join(root, "suites", "os")
	reports := t.TempDir()
	if code, _, _ := runCLI(t, t.Context(), "run", "--build-dir", filepath.Join(root, "build"), "--reports", reports, "--suite", suite); code != 0 {
		t.Fatalf("leviathan run exited %d", code)
	}
	sess := filepath.Join(reports, session.FileName)
	if _, err := os.Stat(sess); err != nil {
		t.Fatalf("the run left no session recording: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(reports, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum gotest.Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tr := range sum.Tests {
		if !strings.Contains(tr.Name, "/") {
			names = append(names, tr.Name)
		}
	}
	if len(names) < 10 {
		t.Fatalf("only %d tests recorded: %v", len(names), names)
	}
	run := "^(" + strings.Join(names, "|") + ")$"

	t.Run("same suite", func(t *testing.T) {
		code, out, _ := runCLI(t, t.Context(), "replay", sess, "--suite", suite, "--run", run)
		if code != 0 {
			t.Fatalf("exit %d, want 0", code)
		}
		if !strings.Contains(out, "every result equals the recorded run's, and the replay did not diverge") {
			t.Error("the replay does not say every result equals the recorded one")
		}
		for _, n := range names {
			if !regexp.MustCompile(`os/` + n + `\s+PASS\s+PASS\s*\n`).MatchString(out) {
				t.Errorf("%s is not PASS both recorded and replayed", n)
			}
		}
		m := regexp.MustCompile(`([0-9.]+)× faster`).FindStringSubmatch(out)
		if m == nil {
			t.Fatal("no speed-up printed")
		}
		if f, _ := strconv.ParseFloat(m[1], 64); f < 2 {
			t.Errorf("the replay is only %s× faster than the recorded run", m[1])
		}
		if dirs, _ := filepath.Glob(filepath.Join(reports, "replay-*", "summary.json")); len(dirs) != 1 {
			t.Errorf("the replay's reports are not in one new directory beside the session: %v", dirs)
		}
	})

	t.Run("changed suite", func(t *testing.T) {
		// A copy inside the module (so that it compiles against it), in a
		// directory go's ./... leaves out, named os as the recorded suite.
		dir, err := os.MkdirTemp(filepath.Join(root, "build"), "_replay-changed-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		changed := filepath.Join(dir, "os")
		os.MkdirAll(changed, 0o755)
		files, _ := filepath.Glob(filepath.Join(suite, "*.go"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if filepath.Base(f) == "os_test.go" {
				before := len(b)
				b = bytes.Replace(b, []byte(`d.Run(t, "cat /etc/os-release")`), []byte(`d.Run(t, "cat /etc/./os-release")`), 1)
				if len(b) == before {
					t.Fatal("TestOSRelease no longer runs cat /etc/os-release; change the copy another way")
				}
			}
			os.WriteFile(filepath.Join(changed, filepath.Base(f)), b, 0o644)
		}
		code, out, _ := runCLI(t, t.Context(), "replay", sess, "--suite", changed, "--run", run, "--reports", t.TempDir())
		if code != ExitTestsFailed {
			t.Fatalf("exit %d, want %d", code, ExitTestsFailed)
		}
		for _, want := range []string{
			`first divergence: replay: the recording holds no call POST /v1/exec {"command":"cat /etc/./os-release"}`,
			`the recording held next #`,
			`POST /v1/exec {"command":"cat /etc/os-release"}`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the output lacks %q", want)
			}
		}
		if !regexp.MustCompile(`os/TestOSRelease\s+PASS\s+FAIL\s+≠`).MatchString(out) {
			t.Error("the table does not show TestOSRelease failing in the replay")
		}
	})
}
