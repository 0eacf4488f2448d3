package v4l2

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeFFmpeg puts a shell script named ffmpeg first in PATH.
func fakeFFmpeg(t *testing.T, script string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ffmpeg"), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// fakeDevice is a file standing in for /dev/videoN: New only checks that
// it exists and is read-writable.
func fakeDevice(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "video0")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLavfi runs the real ffmpeg with its test pattern in place of a
// device: the command line this package builds, and the PNG decoding.
func TestLavfi(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not installed (apt-get install ffmpeg): the real capture command is not exercised")
	}
	c, err := New(Config{Device: "testsrc=size=320x240:rate=5", demuxer: "lavfi", Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Screenshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if s := img.Bounds().Size(); s.X != 320 || s.Y != 240 {
		t.Errorf("frame is %v, want 320x240", s)
	}
}

func TestArgs(t *testing.T) {
	fakeFFmpeg(t, "exit 0\n")
	dev := fakeDevice(t)
	c, err := New(Config{Device: dev, Size: "1280x720", Format: "mjpeg"})
	if err != nil {
		t.Fatal(err)
	}
	want := "-hide_banner -nostdin -loglevel error -f v4l2 -video_size 1280x720 -input_format mjpeg -i " + dev + " -frames:v 1 -f image2pipe -vcodec png -"
	if got := strings.Join(c.Args(), " "); got != want {
		t.Errorf("Args = %s\nwant   %s", got, want)
	}
}

// TestFakeFFmpegPNG: a fake ffmpeg that checks its arguments and prints a
// PNG; the screenshot is that PNG.
func TestFakeFFmpegPNG(t *testing.T) {
	var pngBytes bytes.Buffer
	// A 1x1 PNG from the standard library's encoder.
	if err := png.Encode(&pngBytes, imageOne()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	frame := filepath.Join(dir, "frame.png")
	os.WriteFile(frame, pngBytes.Bytes(), 0o644)
	argsFile := filepath.Join(dir, "args")
	fakeFFmpeg(t, `echo "$@" > `+argsFile+`; cat `+frame+"\n")
	dev := fakeDevice(t)
	c, err := New(Config{Device: dev, Size: "640x480"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Screenshot(t.Context())
	if err != nil || !bytes.Equal(b, pngBytes.Bytes()) {
		t.Fatalf("Screenshot = %d bytes, %v", len(b), err)
	}
	args, _ := os.ReadFile(argsFile)
	if !strings.Contains(string(args), "-f v4l2 -video_size 640x480 -i "+dev+" -frames:v 1") {
		t.Errorf("ffmpeg ran with %s", args)
	}
}

func TestFakeFFmpegFails(t *testing.T) {
	fakeFFmpeg(t, "echo '[video4linux2,v4l2 @ 0x5581] Cannot open video device /dev/video0: Device or resource busy' >&2\necho '/dev/video0: Device or resource busy' >&2\nexit 1\n")
	c, err := New(Config{Device: fakeDevice(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Screenshot(t.Context())
	var ce *CaptureError
	if !errors.As(err, &ce) || !strings.Contains(ce.Stderr, "Device or resource busy") || !strings.Contains(err.Error(), "ffmpeg said: [video4linux2") || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("Screenshot = %v", err)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Errorf("the exit status is not unwrappable: %v", err)
	}
}

func TestFakeFFmpegNotPNG(t *testing.T) {
	fakeFFmpeg(t, "echo 'garbage'\n")
	c, err := New(Config{Device: fakeDevice(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Screenshot(t.Context()); err == nil || !strings.Contains(err.Error(), "ffmpeg printed 8 bytes that are not a PNG") {
		t.Fatalf("Screenshot = %v", err)
	}
}

func TestFakeFFmpegHangs(t *testing.T) {
	fakeFFmpeg(t, "echo 'waiting for a signal' >&2\nexec sleep 30\n")
	c, err := New(Config{Device: fakeDevice(t), Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Screenshot(t.Context())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no frame within") || !strings.Contains(err.Error(), "waiting for a signal") {
		t.Fatalf("Screenshot = %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Screenshot took %v to time out", el)
	}
}

func TestNewErrors(t *testing.T) {
	fakeFFmpeg(t, "exit 0\n")
	denied := fakeDevice(t)
	os.Chmod(denied, 0)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "v4l2: VIDEO_DEVICE is empty"},
		{Config{Device: "/dev/does-not-exist-video9"}, "v4l2: capture device /dev/does-not-exist-video9 does not exist"},
		{Config{Device: fakeDevice(t), Size: "1080p"}, `v4l2: VIDEO_SIZE="1080p": want WIDTHxHEIGHT`},
		{Config{Device: fakeDevice(t), FFmpeg: "no-such-ffmpeg-here"}, "v4l2: screenshots need ffmpeg"},
		{Config{Device: denied}, "not permitted"},
	} {
		if tc.cfg.Device == denied && os.Geteuid() == 0 {
			continue // root may open anything
		}
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
