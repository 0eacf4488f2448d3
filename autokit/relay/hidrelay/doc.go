// Package hidrelay drives the common 1–8 channel USB HID relay boards (the
// "USBRelayN" kind sold under the dcttech name, USB ID 16c0:05df) through
// Linux hidraw nodes, without libhidapi.
//
// The protocol, as the usbrelay and usb-relay-hid tools use it: a 9-byte
// feature report written with HIDIOCSFEATURE — report number 0, then 0xFF
// to close (switch on) or 0xFD to open a channel, then the channel number —
// and a 9-byte feature report read with HIDIOCGFEATURE (report number 1)
// whose bytes 0–4 are the board's serial number and byte 7 the state of all
// channels, bit 0 for channel 1.
//
// A board is chosen by its serial number: Open scans
// class/hidraw/*/device/uevent in sysfs for HID_ID vendor 16c0 product 05df,
// reads each candidate's serial through the feature report, and fails with
// a NotFoundError listing the serials (and unreadable nodes) it saw when
// none matches. Set reads the state back and fails when the channel did not
// switch.
//
// Limits: the boards' serial numbers are five characters and can collide
// between boards of the same batch; the channel count is taken from the
// product name ("USBRelay2") unless configured. The CH551G-based boards that
// look alike but speak a different protocol (output reports 0xA0…) are not
// supported. Linux only; tested by playback of recordings authored from the
// documented protocol (see testdata/).
package hidrelay
