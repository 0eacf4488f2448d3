package iotest

import (
	"os"
	"testing"

	"github.com/balena/leviathan-action/autokit/devio"
)

// RecordEnv is the environment variable that switches Session from playing
// recordings back to recording real hardware.
const RecordEnv = "IOTEST_RECORD"

// Recording reports whether tests record real hardware (IOTEST_RECORD=1).
func Recording() bool { return os.Getenv(RecordEnv) == "1" }

// Session is the Opener a driver test uses. It plays back file (a path
// under testdata/) and fails t, when the test ends, on any mismatch or
// unused operation. With IOTEST_RECORD=1 it records the real devices
// instead (through devio.Host) and rewrites file when the test ends, unless
// the test failed.
//
// The returned session implements devio.Opener and devio.FDOpener.
func Session(t testing.TB, file string) *devio.Session {
	t.Helper()
	s, err := devio.OpenSession(file, Recording())
	if err != nil {
		t.Fatal(err)
		return nil
	}
	t.Cleanup(func() { finish(t, s) })
	return s
}

// finish ends s when the test t ends: it reports playback mismatches, or
// saves a recording unless the test failed.
func finish(t testing.TB, s *devio.Session) {
	if s.Recording() && t.Failed() {
		t.Logf("iotest: test failed; %s not rewritten", s.File())
		return
	}
	if err := s.Finish("Recorded from real hardware by " + t.Name() + " with " + RecordEnv + "=1."); err != nil {
		t.Error(err)
	}
}
