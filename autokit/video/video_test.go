package video

import (
	"errors"
	"strings"
	"testing"
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
		{env(), "video: VIDEO is not set; one of: v4l2"},
		{env("VIDEO", "gstreamer"), `video: unknown VIDEO="gstreamer"; one of: v4l2`},
		{env("VIDEO", "v4l2"), "video: VIDEO=v4l2: VIDEO_DEVICE is required"},
		{env("VIDEO", "v4l2", "VIDEO_DEVICE", "/dev/video0", "VIDEO_TIMEOUT", "1 minute"), `VIDEO_TIMEOUT="1 minute" is not a duration`},
		{env("VIDEO", "V4L2", "VIDEO_DEVICE", "/dev/does-not-exist-video9"), "video: VIDEO=v4l2: v4l2: capture device /dev/does-not-exist-video9 does not exist"},
	} {
		if _, err := Open(tc.env); err == nil || !strings.HasPrefix(err.Error(), tc.want) && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open = %v, want %q", err, tc.want)
		}
	}
	if _, err := Open(env()); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("Open without VIDEO = %v", err)
	}
}
