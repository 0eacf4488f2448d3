// Package sshexec runs commands on a DUT over a persistent SSH connection,
// so each command costs one session round trip instead of a new TCP
// connection, key exchange and authentication.
//
// Conn is one connection: Run opens one session per command on it. Pool
// keeps one Conn per address and redials when the DUT has rebooted.
//
// Limits:
//   - Authentication is by public key only, always as user root (User).
//   - The DUT's host key is not verified: DUT host keys are regenerated on
//     every flash, so there is nothing stable to pin. Anyone who can
//     answer on the DUT's address can impersonate it; the DUT network is
//     expected to be a cable or bridge private to the testbot.
//   - No PTY, no port forwarding, no agent forwarding.
//   - Run stops feeding stdin when the command exits; a Read on stdin
//     that is blocked at that moment may complete after Run returns, as
//     with os/exec and a WaitDelay.
//   - A DUT that vanishes without closing TCP (power cut) is noticed by a
//     keepalive request that Pool sends on connections idle for a while,
//     or by the caller's context deadline.
package sshexec
