package relayenv

import (
	"strings"
	"testing"
)

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DIGITAL_RELAY": "usb"}, `DIGITAL_RELAY="usb" is not one of [hid gpio]`},
		{map[string]string{"DIGITAL_RELAY": "hid", "DIGITAL_RELAY_SERIAL": ""}, "DIGITAL_RELAY_SERIAL is empty"},
		{map[string]string{"DIGITAL_RELAY": "gpio", "DIGITAL_RELAY_CHIP": ""}, "DIGITAL_RELAY_CHIP is empty"},
	} {
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		if _, err := Open(t.Context(), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open with %v = %v, want %q", tc.env, err, tc.want)
		}
	}
	t.Setenv("DIGITAL_RELAY", "")
	if r, err := Open(t.Context(), nil); r != nil || err != nil {
		t.Errorf("Open without DIGITAL_RELAY = %v, %v", r, err)
	}
}
