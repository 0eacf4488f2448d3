// Package v4l2 takes screenshots of a DUT's display from a V4L2 capture
// device (an HDMI-to-USB capture stick, a capture card) by running ffmpeg
// for one frame:
//
//	ffmpeg -f v4l2 [-video_size S] [-input_format F] -i /dev/videoN -frames:v 1 -f image2pipe -vcodec png -
//
// Configuration: VIDEO=v4l2 with VIDEO_DEVICE (required), VIDEO_SIZE,
// VIDEO_FORMAT, VIDEO_TIMEOUT (15s) and VIDEO_FFMPEG (ffmpeg); see package
// video.
//
// # Limits
//
// Needs the ffmpeg program (Debian package ffmpeg). Each screenshot opens
// the device anew, which takes from a few hundred milliseconds to a second
// or two on USB capture sticks, and takes the first frame the device
// delivers: some devices deliver a dark or partial first frame after
// opening. No streaming or recording; the device must not be in use by
// another program (ffmpeg then fails with "Device or resource busy", which
// the error carries).
package v4l2
