package keyboardtest_test

import (
	"testing"

	"github.com/balena/leviathan-action/autokit/iotest"
	"github.com/balena/leviathan-action/autokit/keyboard/hidgadget"
	"github.com/balena/leviathan-action/autokit/keyboard/keyboardtest"
)

// TestHIDGadgetConformance runs the suite against the USB HID gadget driver
// over hidgadget/testdata/conformance.json, which holds exactly the reports
// of keyboardtest.Chords: playback fails on any other write, so the failing
// presses are checked not to reach the device. With IOTEST_RECORD=1 it
// drives the real /dev/hidg0 and rewrites the recording.
func TestHIDGadgetConformance(t *testing.T) {
	g, err := hidgadget.Open(hidgadget.Config{Device: "/dev/hidg0"}, hidgadget.WithOpener(iotest.Session(t, "../hidgadget/testdata/conformance.json")))
	if err != nil {
		t.Fatal(err)
	}
	keyboardtest.Conformance(t, g)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
}
