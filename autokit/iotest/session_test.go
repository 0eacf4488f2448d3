package iotest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/autokit/devio"
)

// fakeTB records what Session reports, so the test can check a failing
// session without failing itself.
type fakeTB struct {
	testing.TB
	name     string
	failed   bool
	errs     []string
	cleanups []func()
}

func (f *fakeTB) Helper()             {}
func (f *fakeTB) Name() string        { return f.name }
func (f *fakeTB) Failed() bool        { return f.failed }
func (f *fakeTB) Cleanup(fn func())   { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Logf(string, ...any) {}
func (f *fakeTB) Error(args ...any) {
	f.failed = true
	f.errs = append(f.errs, fmt.Sprint(args...))
}
func (f *fakeTB) Fatal(args ...any) { f.Error(args...) }

// end runs the cleanups Session registered, as the end of a test would.
func (f *fakeTB) end() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// writeRecording writes ops as a recording file and returns its path.
func writeRecording(t *testing.T, ops ...devio.Op) string {
	t.Helper()
	b, err := json.Marshal(devio.File{Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "rec.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

var openClose = []devio.Op{
	{Op: devio.OpOpen, Path: "/dev/x", Flag: os.O_RDWR},
	{Op: devio.OpClose, Path: "/dev/x"},
}

func TestSessionPlayback(t *testing.T) {
	t.Setenv(RecordEnv, "")
	for _, tc := range []struct {
		name    string
		use     func(o devio.Opener) // what the driver does
		wantErr string               // what the test is failed with; "" passes
	}{
		{"follows the recording", func(o devio.Opener) {
			d, _ := o.Open("/dev/x", os.O_RDWR)
			d.Close()
		}, ""},
		{"leaves operations unused", func(o devio.Opener) {
			o.Open("/dev/x", os.O_RDWR)
		}, "1 recorded operations unused, from #1: close /dev/x"},
		{"does something else", func(o devio.Opener) {
			o.Open("/dev/y", os.O_RDWR)
		}, "got device /dev/y, want /dev/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := &fakeTB{TB: t, name: t.Name()}
			tc.use(Session(tb, writeRecording(t, openClose...)))
			tb.end()
			got := strings.Join(tb.errs, "\n")
			if tc.wantErr == "" && got != "" {
				t.Errorf("session failed the test: %s", got)
			}
			if tc.wantErr != "" && !strings.Contains(got, tc.wantErr) {
				t.Errorf("session failed the test with %q, want it to contain %q", got, tc.wantErr)
			}
		})
	}
}

func TestSessionMissingRecording(t *testing.T) {
	t.Setenv(RecordEnv, "")
	tb := &fakeTB{TB: t, name: t.Name()}
	if s := Session(tb, filepath.Join(t.TempDir(), "none.json")); s != nil {
		t.Errorf("Session over a missing file = %v, want nil", s)
	}
	if len(tb.errs) != 1 || !strings.Contains(tb.errs[0], "none.json") {
		t.Errorf("Session over a missing file reported %q, want one error naming the file", tb.errs)
	}
}

// TestSessionRecords records real operations on a regular file and checks
// that the recording is written when the test passes, and left alone when
// it fails.
func TestSessionRecords(t *testing.T) {
	t.Setenv(RecordEnv, "1")
	dev := filepath.Join(t.TempDir(), "dev")
	if err := os.WriteFile(dev, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, failed := range []bool{false, true} {
		file := filepath.Join(t.TempDir(), "testdata", "rec.json")
		tb := &fakeTB{TB: t, name: "TestDriver", failed: failed}
		d, err := Session(tb, file).Open(dev, os.O_RDWR)
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		tb.end()
		_, statErr := os.Stat(file)
		if failed {
			if statErr == nil {
				t.Errorf("a failed test rewrote its recording %s", file)
			}
			continue
		}
		p, err := devio.Load(file)
		if err != nil {
			t.Fatalf("the recording was not written: %v", err)
		}
		if len(p.Ops) != 2 || p.Ops[0].Op != devio.OpOpen || p.Ops[1].Op != devio.OpClose {
			t.Errorf("recorded %v, want open and close", p.Ops)
		}
		b, _ := os.ReadFile(file)
		if !strings.Contains(string(b), "Recorded from real hardware by TestDriver with IOTEST_RECORD=1.") {
			t.Errorf("the recording does not say where it came from:\n%s", b)
		}
	}
}
