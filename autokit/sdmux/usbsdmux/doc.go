// Package usbsdmux drives the Linux Automation USB-SD-Mux: a Microchip
// USB2642 card reader whose auxiliary I2C bus carries a PCA9536 GPIO
// expander that switches the micro-SD card between the testbot and the DUT.
//
// The driver sends the USB2642's vendor SCSI commands (opcode 0xCF; 0x23
// writes to the I2C bus, 0x22 writes then reads) to the reader's /dev/sgN
// node through the SG_IO ioctl, as the usbsdmux tool does, with a 512-byte
// data phase. The expander's output register (0x01) holds: bit 0 data lines
// disabled, bit 1 card supply disabled, bit 2 DUT selected, bit 3 card
// reported removed to the testbot; register 0x03 makes bits 0–3 outputs.
// Every switch first disconnects the card (supply off), waits Settle (1 s,
// for the supply to drain), then connects it to the chosen side, and reads
// the output register back to check.
//
// After a switch to the testbot, Storage waits (Timeout, 10 s by default)
// for the card's node — a stable /dev/disk/by-id path — to appear and opens
// it; closing the target switches back to the DUT.
//
// Limits: only the PCA9536 variant (I2C address 0x41) is supported; newer
// revisions with a TCA6408 expander at 0x20 are not. Access to /dev/sg*
// needs CAP_SYS_RAWIO (root). The SG_IO header is laid out for 64-bit Linux.
// Tested by playback of recordings authored from the usbsdmux tool's
// documented command layout, not captured from hardware.
package usbsdmux
