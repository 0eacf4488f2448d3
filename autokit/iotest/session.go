package iotest

import (
	"os"
	"path/filepath"
	"testing"
)

// RecordEnv is the environment variable that switches Session from playing
// recordings back to recording real hardware.
const RecordEnv = "IOTEST_RECORD"

// Recording reports whether tests record real hardware (IOTEST_RECORD=1).
func Recording() bool { return os.Getenv(RecordEnv) == "1" }

// Session is the Opener a driver test uses. It plays back file (a path
// under testdata/) and fails t, when the test ends, on any mismatch or
// unused operation. With IOTEST_RECORD=1 it records the real devices
// instead (through Host) and rewrites file when the test ends, unless the
// test failed.
//
// The returned value implements Opener and FDOpener.
func Session(t testing.TB, file string) interface {
	Opener
	FDOpener
} {
	t.Helper()
	if Recording() {
		r := &Record{Opener: Host{}}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("iotest: test failed; %s not rewritten", file)
				return
			}
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Error(err)
			}
			if err := r.Save(file, "Recorded from real hardware by "+t.Name()+" with "+RecordEnv+"=1."); err != nil {
				t.Error(err)
			}
		})
		return r
	}
	p, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Done(); err != nil {
			t.Error(err)
		}
	})
	return p
}
