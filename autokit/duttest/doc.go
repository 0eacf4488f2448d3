// Package duttest provides fakes for testing code that drives a DUT
// without hardware or QEMU: a fake DUT (DUT) that implements every
// capability except relays, and an in-process SSH server (SSHServer) that
// runs commands with the local shell, standing in for the DUT's sshd.
//
// Limits: the SSH server runs commands on the test machine itself, as the
// test's user, with "sh -c"; it serves exec sessions only (no shell, PTY or
// forwarding) and is meant for loopback use in tests. Command execution
// needs a Unix system. The fake DUT's storage is a plain file; its
// console prints only what the test writes into it.
package duttest
