// Package consoletest is the conformance suite for dut.Console
// implementations.
//
// Conformance checks what every console must do, whatever the board:
//
//   - Log returns the same non-nil capture on every call;
//   - the capture is append-only: Len never decreases, what Since(0)
//     returned earlier stays a prefix of what it returns later, and
//     Since(off) returns what was appended from off on;
//   - Expect finds text that arrives after it started waiting, and fails
//     with a *dut.ExpectError wrapping ctx's error, without overrunning
//     ctx, when the text never comes;
//   - Write reaches the other end of the line.
//
// The suite drives the DUT's end of the line through a peer (the master
// side of a pty, a socket) when it has one. A console whose other end a
// test cannot reach, such as QemuKit's (the far end is the firmware), gives
// a Wake function instead that makes the DUT print on its own (powering it
// on); the checks that need the peer are then skipped with the reason.
//
// Limits: the suite writes short ASCII tokens without line ends, which a
// real DUT's shell would take as typed input; run it against a DUT at a
// point where that is harmless, or without a peer.
package consoletest
