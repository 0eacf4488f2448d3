package sdmuxenv

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "SD_MUX is not set; one of: blockdev, sdwire, usbsdmux"},
		{map[string]string{"SD_MUX": "sd-mux"}, `unknown SD_MUX="sd-mux"; one of: blockdev, sdwire, usbsdmux`},
		{map[string]string{"SD_MUX": "usbsdmux", "SD_MUX_DEVICE": "/dev/x"}, "SD_MUX_SG is empty"},
		{map[string]string{"SD_MUX": "usbsdmux", "SD_MUX_SG": "/dev/sg1", "SD_MUX_DEVICE": "/dev/x", "SD_MUX_SETTLE": "-1s"}, "SD_MUX_SETTLE=-1s: must not be negative"},
		{map[string]string{"SD_MUX": "sdwire"}, "SD_MUX_SERIAL is empty"},
		{map[string]string{"SD_MUX": "blockdev"}, "SD_MUX_DEVICE is empty"},
		{map[string]string{"SD_MUX": "blockdev", "SD_MUX_DEVICE": "/dev/x", "SD_MUX_TIMEOUT": "0s"}, "SD_MUX_TIMEOUT=0s: must be positive"},
		{map[string]string{"SD_MUX": "blockdev", "SD_MUX_DEVICE": "/dev/x", "SD_MUX_DIRECT": "yes"}, `SD_MUX_DIRECT="yes" is not true or false`},
	} {
		if _, err := Open(env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open with %v = %v, want %q", tc.env, err, tc.want)
		}
	}
	if _, err := Open(env(nil)); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("Open without SD_MUX = %v, want ErrNotConfigured", err)
	}
}

func TestOpen(t *testing.T) {
	s, err := Open(env(map[string]string{"SD_MUX": "blockdev", "SD_MUX_DEVICE": "/dev/disk/by-id/usb-Generic-0:0", "SD_MUX_DIRECT": "true"}))
	if err != nil || s.Device != "/dev/disk/by-id/usb-Generic-0:0" || s.Name != "blockdev" || !s.Direct || s.Timeout != 10*time.Second {
		t.Errorf("Open = %+v, %v", s, err)
	}
}
