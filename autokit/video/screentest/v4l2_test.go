package screentest_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/video/screentest"
	"github.com/balena/leviathan-action/autokit/video/v4l2"
)

// lavfiFFmpeg is an ffmpeg wrapper that swaps the capture device for
// ffmpeg's lavfi test source and runs the real ffmpeg: the driver's own
// command line otherwise, and its PNG checks.
const lavfiFFmpeg = `#!/bin/sh
# Stands in for a capture card: "-f v4l2 -i DEVICE" becomes the lavfi test source.
prev=
for a do
	shift
	orig=$a
	case $prev in
	-f) [ "$a" = v4l2 ] && a=lavfi ;;
	-i) a='testsrc=size=320x240:rate=5' ;;
	esac
	set -- "$@" "$a"
	prev=$orig
done
exec %s "$@"
`

// TestV4L2Conformance runs the suite against the v4l2 driver with the real
// ffmpeg reading its lavfi test source in place of a capture device.
func TestV4L2Conformance(t *testing.T) {
	real, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg is not installed (apt-get install ffmpeg): the v4l2 driver cannot capture")
	}
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "ffmpeg-lavfi")
	if err := os.WriteFile(wrapper, []byte(fmt.Sprintf(lavfiFFmpeg, real)), 0o755); err != nil {
		t.Fatal(err)
	}
	device := filepath.Join(dir, "video0") // New only checks it exists and is read-writable
	if err := os.WriteFile(device, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := v4l2.New(v4l2.Config{Device: device, FFmpeg: wrapper, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	screentest.Conformance(t, c)
}
