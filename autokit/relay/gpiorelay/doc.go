// Package gpiorelay drives relays wired to Linux GPIO lines through the GPIO
// character device, uAPI v2 (/dev/gpiochipN), without libgpiod.
//
// Channel n is the n-th configured line offset on one chip. The first Set
// on a channel requests its line as an output (GPIO_V2_GET_LINE_IOCTL) with
// the wanted value as its initial value, so requesting never glitches the
// relay; later Sets use GPIO_V2_LINE_SET_VALUES_IOCTL. Every Set reads the
// value back with GPIO_V2_LINE_GET_VALUES_IOCTL. ActiveLow makes the kernel
// invert the line (GPIO_V2_LINE_FLAG_ACTIVE_LOW), for relay boards that
// close on a low level. The line requests are held until Close; the kernel
// keeps a released line's level on most drivers, but that is not promised.
//
// Limits: State of a channel not yet set since Open is an error (reading it
// would mean requesting the line, which changes its direction or level);
// one chip per Relay; 64-bit little-endian Linux (the request structure is
// laid out as on amd64 and arm64). Tested by playback of recordings authored
// from the uAPI v2 header (include/uapi/linux/gpio.h), not captured from
// hardware.
package gpiorelay
