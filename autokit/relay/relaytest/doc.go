// Package relaytest is the conformance suite for dut.Relay implementations
// and a Fake relay for tests of code built on relays.
//
// Conformance issues a fixed sequence, so that drivers can run it over
// record/playback: for each channel from 1 to channels, Set(closed) and,
// when the relay implements relay.Stater, State; then Set(open) and State.
// It then expects Set on channel 0 and channels+1, and Set with a cancelled
// context, to fail without touching the device.
package relaytest
