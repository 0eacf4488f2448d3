// Package video is the DUT screen family: it picks the capture driver from
// the environment (VIDEO=v4l2, package v4l2: VIDEO_DEVICE, VIDEO_SIZE,
// VIDEO_FORMAT, VIDEO_TIMEOUT, VIDEO_FFMPEG) and compares screenshots with
// reference images by perceptual hash, for boot splash checks.
//
// The hash is a 256-bit difference hash (see Hash), pure Go, over a
// 17×16-cell luminance grid: robust to capture noise, recompression,
// scaling and small brightness changes; compared by Hamming distance.
//
// # Limits
//
// A difference hash sees layout and edges, not colour: the same splash in
// another colour scheme matches, and so do two flat screens of different
// colours (both hash to zeros). It is not shift- or rotation-invariant: a
// logo moved by more than a cell (1/16 of the screen) changes many bits.
// Small details (a line of text changing in a corner) change few bits;
// crop the screenshot before hashing to compare a region. Decodes PNG and
// JPEG.
package video
