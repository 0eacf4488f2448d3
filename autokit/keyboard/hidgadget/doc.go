// Package hidgadget presses keys on a DUT through a USB HID gadget: a
// board (a Raspberry Pi Zero, a USB-OTG capable SBC) whose Linux presents a
// keyboard function to the DUT and exposes it as /dev/hidgN.
//
// Every Press writes one 8-byte boot keyboard input report — modifier bits
// (ctrl, shift, alt, meta_l, ctrl_r, shift_r, alt_r, meta_r), a reserved
// zero byte, up to six key usage IDs — then, after the hold time, the
// all-zero report that releases everything. Key names are QEMU's QKeyCode
// names ("ctrl", "alt", "delete", "a", "ret", "f12", "kp_enter", "up" …),
// the ones QemuKit takes, mapped to usage IDs of the USB HID Usage Tables'
// Keyboard/Keypad page. An unknown name fails with the closest known names.
//
// # Setting up the gadget
//
// The function must use the boot keyboard report descriptor (HID 1.11
// appendix B.1, the example in the Linux kernel's gadget_hid
// documentation): protocol 1, subclass 1, report length 8. Once the gadget
// is bound to a UDC, /dev/hidg0 appears.
//
// # Limits
//
// Keys beyond that descriptor's range (usage 0x65: f13–f24, media and
// language keys) cannot be sent and fail with an error saying so; no
// consumer-page keys (volume, play). Six keys plus modifiers per chord.
// Keyboard LED output reports (caps lock state) are not read. A write
// blocks until the USB host polls the previous report; with no host
// connected the kernel fails it (ESHUTDOWN), which Press reports.
//
// Configuration: KEYBOARD=hidgadget, KEYBOARD_DEVICE (/dev/hidg0),
// KEYBOARD_HOLD (20ms); see package keyboard.
package hidgadget
