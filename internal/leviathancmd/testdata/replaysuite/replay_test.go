// Package replaysuite is a small suite the replay command's tests replay
// from a hand-made recording. REPLAY_FIXTURE_GREETING changes the command
// TestGreeting runs, making it a changed suite.
package replaysuite

import (
	"os"
	"testing"
	"time"

	"github.com/balena/leviathan-action/suites/sdk"
)

func TestKernel(t *testing.T) {
	d := sdk.Get(t)
	if got := d.Run(t, "uname -r"); got != "6.1.0-leviathan" {
		t.Fatalf("uname -r = %q", got)
	}
}

func TestGreeting(t *testing.T) {
	d := sdk.Get(t)
	word := "hello"
	if w := os.Getenv("REPLAY_FIXTURE_GREETING"); w != "" {
		word = w
	}
	if got := d.Run(t, "echo "+word); got != word {
		t.Fatalf("echo %s = %q", word, got)
	}
}

func TestConsole(t *testing.T) {
	d := sdk.Get(t)
	mark := d.SerialMark(t)
	d.SerialWrite(t, "\recho serial-$((6*7))\r")
	d.Expect(t, mark, `serial-42`, 30*time.Second)
}
