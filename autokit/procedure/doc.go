// Package procedure describes, as data, how an image gets onto a board of
// a given device type, and runs that description against the DUT's
// capability interfaces as a state machine.
//
// A procedure file is YAML:
//
//	device-types: [raspberrypi4-64, raspberrypi3]
//	procedure: sd-mux            # a built-in: sd-mux, flasher or usb-boot
//
//	device-types: [genericx86-64-ext]
//	procedure: flasher
//	power-down:                  # how to tell the flasher has finished
//	  serial: 'reboot: Power down'
//	  carrier: ${NETWORK_INTERFACE}
//	  timeout: 30m
//
//	device-types: [raspberrypicm4-ioboard]
//	procedure: usb-boot
//	usb-boot:
//	  command: [rpiboot, -d, /usr/share/rpiboot/mass-storage-gadget64]
//	  device: /dev/disk/by-id/usb-RPi-MSD-_0001-0:0
//	  timeout: 2m
//
// or lists its steps itself instead of naming a built-in:
//
//	steps:
//	  - power-off
//	  - flash
//	  - power-on
//	  - wait-power-down: {serial: 'Power down', timeout: 20m}
//	  - power-off
//	  - mux-host
//
// The built-ins expand to: sd-mux = power-off, flash; flasher = power-off,
// flash, power-on, wait-power-down, power-off, mux-host; usb-boot =
// power-off, power-on, usb-boot, flash, power-off. ${VAR} in any string is
// replaced from the environment when the file is loaded (an unset variable
// is an error naming it). Errors name the file and line.
//
// Steps move the DUT between explicit states (unknown, off, on, flashed,
// halted, usb, usb-flashed); a step that has no transition from the
// current state is an error, found when the file is loaded by walking the
// steps from "unknown", and again when it runs. Every step is logged; on
// any failure the DUT is powered off before Run returns.
//
// Limits: the flash step writes through a function the caller passes
// (the worker's flash pipeline); carrier detection reads
// /sys/class/net/<interface>/carrier unless given another reader; the
// usb-boot tool must exit once the storage is exposed (rpiboot does).
package procedure
