package relayenv

import (
	"errors"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "DIGITAL_RELAY is not set; one of: gpio, hid"},
		{map[string]string{"DIGITAL_RELAY": "usb"}, `unknown DIGITAL_RELAY="usb"; one of: gpio, hid`},
		{map[string]string{"DIGITAL_RELAY": "hid"}, "DIGITAL_RELAY_SERIAL is required"},
		{map[string]string{"DIGITAL_RELAY": "hid", "DIGITAL_RELAY_SERIAL": "HURTM", "DIGITAL_RELAY_CHANNELS": "many"}, `DIGITAL_RELAY_CHANNELS="many" is not an integer`},
		{map[string]string{"DIGITAL_RELAY": "gpio"}, "DIGITAL_RELAY_CHIP is empty"},
		{map[string]string{"DIGITAL_RELAY": "gpio", "DIGITAL_RELAY_CHIP": "/dev/gpiochip0"}, "DIGITAL_RELAY_LINES is empty"},
		{map[string]string{"DIGITAL_RELAY": "gpio", "DIGITAL_RELAY_CHIP": "/dev/gpiochip0", "DIGITAL_RELAY_LINES": "17,,27"}, `DIGITAL_RELAY_LINES="17,,27" has an empty item`},
		{map[string]string{"DIGITAL_RELAY": "gpio", "DIGITAL_RELAY_CHIP": "/dev/does-not-exist", "DIGITAL_RELAY_LINES": "17"}, "/dev/does-not-exist"},
	} {
		if _, err := Open(t.Context(), env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open with %v = %v, want %q", tc.env, err, tc.want)
		}
	}
	if r, err := Open(t.Context(), env(nil)); r != nil || !errors.Is(err, ErrNotConfigured) {
		t.Errorf("Open without DIGITAL_RELAY = %v, %v; want ErrNotConfigured", r, err)
	}
}
