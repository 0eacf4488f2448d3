// Package serialconsole reads and writes a DUT's serial console through
// go.bug.st/serial: a USB-serial adapter on a board, or the pty QEMU
// exposes for a virtual DUT. Everything received goes into a dut.Capture
// and, when configured, into a log file with a timestamp on every line.
//
// Two ways in:
//
//   - Open(path, baud, capture) opens a port once; when the port goes away
//     the reader stops (QemuKit's pty, which dies with QEMU).
//   - Connect(cfg, capture, …) and OpenEnv(getenv, capture, …) open a
//     testbot's adapter and keep it: when a read fails (the adapter was
//     unplugged, the hub reset) the reader closes the port, waits for the
//     device node to come back with a capped exponential backoff, reopens
//     it with the same settings and keeps appending to the same capture and
//     log, noting "[serial lost: …]" and "[serial reconnected]" there. Close
//     stops the wait.
//
// Exec runs a shell command over the console for when the DUT's network is
// down: it types the command between two echo statements whose markers are
// unique per call and split in the typed text (so the terminal's echo of
// the typed line never matches), and reads the output and exit status
// between the markers from the capture.
//
// # Configuration
//
// OpenEnv reads SERIAL (the device path; use a stable /dev/serial/by-id/…
// link, not /dev/ttyUSBn, which changes with the plugging order) and the
// SERIAL_* variables of Config: SERIAL_BAUD (115200), SERIAL_PARITY (none,
// odd, even, mark, space), SERIAL_LOG (a file the timestamped log is
// appended to) and SERIAL_RECONNECT_TIMEOUT (how long to wait for an
// unplugged adapter; 0, the default, waits until Close).
//
// # Limits
//
// 8 data bits, 1 stop bit, no flow control. Exec needs a POSIX shell at a
// prompt on the console (logged in, not inside an editor or a pager); it
// takes one line (no newlines in cmd); the output is what the terminal
// printed, with "\r\n" turned into "\n", so kernel messages printed to the
// console while the command runs end up in it; a command that reads its
// standard input consumes what follows on the console. A timed-out Exec
// sends Ctrl-C to get the prompt back. Timestamps mark when the testbot
// read a chunk, not when the DUT wrote it (USB-serial adapters buffer for
// a few milliseconds).
package serialconsole
