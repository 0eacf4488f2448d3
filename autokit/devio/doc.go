// Package devio is the device I/O layer beneath the AutoKit hardware
// drivers (USB HID relays, GPIO relays, USB-SD-Mux, SDWire, the HID
// keyboard gadget), with record and playback of what they do.
//
// Drivers do not touch /dev nodes directly: they take an Opener and talk to
// the Device it returns through the narrowest set of calls they need —
// Read, Write, Ioctl and Close. Host is the real implementation (os.OpenFile
// and the ioctl system call). Record wraps any Opener and logs every
// operation with its exact bytes; Playback replays such a log and fails on
// any operation that is unexpected, out of order, carries different bytes,
// or is left unused. This is the model of periph.io's conntest, extended to
// ioctls.
//
// # Recordings
//
// A recording is a JSON file (see File) holding a list of operations: open
// (path and flags), read and write (bytes), ioctl (request number, argument
// bytes in and out, and the in and out contents of every buffer the argument
// points to), fd (a file descriptor handed back by an ioctl, such as a GPIO
// line request, adopted as a Device) and close. Bytes are written as hex
// pairs separated by spaces; a token "00*N" stands for N zero bytes,
// which keeps 512-byte SCSI buffers and 592-byte GPIO line requests readable. An operation that
// failed carries the errno name ("EACCES") in "err".
//
// Pointers inside ioctl arguments (sg_io_hdr, usbdevfs_ctrltransfer) are
// described with Pointer: the argument is recorded with the pointer slots
// zeroed, and each pointed-to buffer separately, so recordings do not depend
// on addresses.
//
// # Sessions
//
// A Session is one recording file in use: OpenSession either plays it back
// or, when asked to record, wraps Host in a Record; Finish then reports
// mismatches and unused operations, or writes the file from what the
// hardware did. Driver tests reach it through autokit/iotest, whose
// Session ties it to a *testing.T and to the IOTEST_RECORD variable.
//
// This package is production code: the drivers link it, so it must not
// import "testing" (internal/layers checks that). Helpers that take a
// *testing.T belong in autokit/iotest.
//
// # Limits
//
// Recordings store argument bytes as the host lays them out: the drivers
// and recordings here assume a 64-bit little-endian Linux (amd64, arm64) and
// the generic ioctl encoding (not mips, powerpc, sparc). Playback does not
// model timing: a driver that polls sees the recorded answers in order, at
// once.
package devio
