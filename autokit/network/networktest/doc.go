// Package networktest is the conformance suite for dut.Network
// implementations.
//
// Conformance checks, when the DUT is reachable, that Address returns a
// parseable IP, an SSH host:port with a valid port and, when set, a
// parseable gateway, and that asking twice gives the same answer; when it
// is not, that Address with a short deadline fails with an error wrapping
// context.DeadlineExceeded instead of waiting on. In both cases Address
// with an already-cancelled context must fail promptly with an error
// wrapping context.Canceled.
//
// Limits: the suite does not connect to the SSH address; it checks the
// answer's form, not that a server listens there.
package networktest
