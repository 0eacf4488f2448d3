// Package powertest checks implementations of dut.Power and helps test
// the network drivers without their hardware.
//
//   - Conformance runs the contract of dut.Power against any driver: Off on
//     an off DUT succeeds, State follows On and Off, repeated calls are
//     idempotent, and an already-cancelled context fails promptly with an
//     error wrapping ctx.Err(). Every driver in autokit/power runs it
//     against its vendor fake, and this package's tests run it against
//     QemuKit.
//   - Digest is server-side HTTP digest authentication (RFC 7616, qop
//     "auth", MD5 or SHA-256) for the fakes of devices that demand it.
//   - Replay sends the request/response pairs documented for a vendor's
//     API (a JSON file in the driver's testdata/, which names the
//     documentation it follows) to a fake and fails on any difference, so a
//     fake cannot drift from the vendor's documented behaviour.
//   - Serve runs a fake on a loopback HTTP server for the test.
//
// Limits: Conformance drives the real device when given one; it switches
// the DUT on and off several times and leaves it off.
package powertest
