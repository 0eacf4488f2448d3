// Package qemukit is a virtual DUT: a QEMU x86-64 machine behind the same
// capability interfaces (autokit/dut) that real boards use.
//
//   - Power: on starts QEMU paused, attaches the console and resumes it
//     through QMP; off quits QEMU through QMP (a hard power cut), killing
//     it if it does not answer.
//   - Storage: the "SD card" is a raw disk file, written while the DUT is off.
//   - Console: the first serial port is a pty, read through
//     autokit/serialconsole like a USB-serial adapter.
//   - Network: user-mode networking; a free loopback port forwards to the
//     DUT's SSH port.
//   - Screen and keyboard: QMP screendump and send-key.
//
// Each DUT keeps its files (disk, UEFI variables, QMP socket, logs) in a
// directory of its own and picks free ports, so several run on one host.
// KVM is used only when a short probe proves it works; TCG otherwise.
//
// Limits: x86-64 with OVMF (UEFI) only; one disk, one NIC.
package qemukit
