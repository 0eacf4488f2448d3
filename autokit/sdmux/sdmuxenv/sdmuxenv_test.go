package sdmuxenv

import (
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"SD_MUX": "sd-mux"}, `SD_MUX="sd-mux" is not one of [usbsdmux sdwire blockdev]`},
		{map[string]string{"SD_MUX": "usbsdmux", "SD_MUX_SG": "", "SD_MUX_DEVICE": "/dev/x"}, "SD_MUX_SG is empty"},
		{map[string]string{"SD_MUX": "sdwire", "SD_MUX_SERIAL": ""}, "SD_MUX_SERIAL is empty"},
		{map[string]string{"SD_MUX": "blockdev", "SD_MUX_DEVICE": ""}, "SD_MUX_DEVICE is empty"},
	} {
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		if _, err := Open(nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open with %v = %v, want %q", tc.env, err, tc.want)
		}
	}
	t.Setenv("SD_MUX", "blockdev")
	t.Setenv("SD_MUX_DEVICE", "/dev/disk/by-id/usb-Generic-0:0")
	s, err := Open(nil)
	if err != nil || s.Device != "/dev/disk/by-id/usb-Generic-0:0" || s.Name != "blockdev" {
		t.Errorf("Open = %+v, %v", s, err)
	}
}
