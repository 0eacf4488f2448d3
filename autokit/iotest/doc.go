// Package iotest holds the test helpers for drivers built on autokit/devio:
// Session gives a test an Opener over a recording in testdata/ and checks
// it when the test ends.
//
// # Recording against real hardware
//
// With the environment variable IOTEST_RECORD=1 a Session wraps the real
// devices (devio.Host) in a devio.Record and, when the test ends and passed,
// rewrites the recording in testdata/ from what the hardware did; otherwise
// it plays the recording back and fails the test on any mismatch or unused
// operation. Each driver's tests document the variables that point them at
// a real device.
//
// This package imports "testing": only tests and other test packages may
// import it (internal/layers checks that). The recording format, Record,
// Playback and Host live in autokit/devio, which production drivers use.
package iotest
