// Package sdmux is what the storage-mux drivers share: a Storage (a
// dut.Storage) that switches a Mux to the testbot, waits for the medium's
// block device node to appear, opens it, and switches back to the DUT when
// the target is closed.
//
// Drivers in subpackages: usbsdmux (Linux Automation USB-SD-Mux), sdwire
// (SDWire) and blockdev (a plain block device such as a USB card reader, no
// mux). sdmuxtest is the conformance suite; sdmuxenv picks a driver from the
// SD_MUX configuration.
//
// Decisions:
//   - Power: a mux cannot know whether the DUT is powered. Storage takes an
//     optional dut.Power; when set, Open fails with dut.ErrPoweredOn while
//     it reports on. When nil, the composing DUT must check power first.
//   - Open twice: the second Open fails at once (it does not block) until
//     the first target is closed.
//   - The node is found by a stable path (/dev/disk/by-id/…), waited for
//     with a bounded timeout (10 s by default) that the context can shorten.
//   - Targets report Capacity (BLKGETSIZE64 for block devices, the size for
//     regular files) and are not Zeroed.
//
// Limits: O_DIRECT (Direct) requires writers to use aligned buffers and
// offsets; it is off by default. Linux only.
package sdmux
