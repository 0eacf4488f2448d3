// Package sdwire drives the SDWire SD mux: an FTDI FT200X whose CBUS0 pin
// selects the card's side (high: testbot, low: DUT), as the sd-mux-ctrl
// tool drives it through libftdi.
//
// Without cgo there is no libusb; the driver issues the FTDI vendor control
// transfers itself through usbdevfs: the USBDEVFS_CONTROL ioctl on the
// device's /dev/bus/usb/BBB/DDD node. A switch sends SET_BITMODE (request
// 0x0B, type 0x40, wValue = 0x20 CBUS bitbang << 8 | 0xF0 all four CBUS pins
// as outputs | CBUS0 level, wIndex 1 = interface A) and reads the pins back
// with READ_PINS (request 0x0C, type 0xC0, one byte); a switch whose CBUS0
// does not read back fails. Vendor requests need no claimed interface, so
// the kernel's ftdi_sio driver may stay bound.
//
// The board is found by its USB serial number (sd-mux-ctrl programs
// "sd-wire_NN") in sysfs bus/usb/devices/*: IDs 04e8:6001 (as sd-mux-ctrl
// programs them) or 0403:6015 (the FT200X default).
//
// Limits: the FT200X's CBUS0 must already be configured for I/O mode in its
// EEPROM (sd-mux-ctrl does that once); this driver does not write the
// EEPROM. Write access to the usbfs node is needed (a udev rule). The
// usbdevfs_ctrltransfer layout is 64-bit Linux's. Tested by playback of
// recordings authored from libftdi's documented requests, not captured from
// hardware.
package sdwire
