package keyboard

import (
	"errors"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/autokit/iotest"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		env  func(string) string
		want string
	}{
		{env(), "keyboard: KEYBOARD is not set; one of: hidgadget"},
		{env("KEYBOARD", "usbkbd"), `keyboard: unknown KEYBOARD="usbkbd"; one of: hidgadget`},
		{env("KEYBOARD", "hidgadget", "KEYBOARD_HOLD", "long"), `keyboard: KEYBOARD=hidgadget: KEYBOARD_HOLD="long" is not a duration`},
		{env("KEYBOARD", "hidgadget", "KEYBOARD_DEVICE", "/dev/does-not-exist-hidg7"), `keyboard: KEYBOARD=hidgadget: hidgadget: opening /dev/does-not-exist-hidg7: open /dev/does-not-exist-hidg7: no such file or directory (no such gadget device`},
	} {
		if _, err := Open(tc.env); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Open = %v, want %q", err, tc.want)
		}
	}
	if _, err := Open(env()); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("Open without KEYBOARD = %v", err)
	}
}

// TestOpenDefaults opens /dev/hidg0 (the default) through a playback.
func TestOpenDefaults(t *testing.T) {
	if iotest.Recording() {
		t.Skip("plays back hidgadget's recording")
	}
	k, err := Open(env("KEYBOARD", "HIDGadget"), WithOpener(iotest.Session(t, "hidgadget/testdata/nohost.json")))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Press(t.Context(), "ret"); err == nil {
		t.Error("Press succeeded with no USB host")
	}
	k.Close()
}
