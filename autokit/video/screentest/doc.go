// Package screentest is the conformance suite for dut.Screen
// implementations.
//
// Conformance takes a screenshot and checks that it decodes as a PNG with
// a non-empty frame, takes several more in a row, checks that a call with
// an already-cancelled context fails promptly with an error wrapping
// context.Canceled, and that the screen still works after that.
//
// Limits: the suite checks the container, not the picture: a black frame
// passes. It needs the DUT's display to be live (QemuKit powered on, a
// capture device with a signal).
package screentest
