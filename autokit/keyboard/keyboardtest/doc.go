// Package keyboardtest is the conformance suite for dut.Keyboard
// implementations.
//
// Conformance presses a fixed sequence of known chords, so that drivers can
// run it over record/playback: "a", "shift"+"a", "ret", "up" (the
// sequence is Chords). It then expects an unknown key name (alone and in a
// chord with a known key) to fail with an error naming it, an empty chord
// to fail, and a press with an already-cancelled context to fail promptly
// with an error wrapping context.Canceled. None of the failing presses may
// reach the DUT; a playback recording holding only Chords checks that.
//
// Limits: the suite types on the DUT: run it where "a", Return and the up
// arrow are harmless (a firmware screen, a shell prompt). It cannot see
// whether the keys arrived; record/playback or a screenshot does that.
package keyboardtest
