// Package blockdev is a plain block device as the flash target: a USB card
// reader whose card is swapped by hand, or any disk that is always on the
// testbot. There is no mux: Open waits (Timeout, 10 s by default) for the
// node to appear, opens it read-write (O_DIRECT optional), and reports its
// Capacity through BLKGETSIZE64; targets are not Zeroed. A path that never
// appears, or is not permitted, fails with an error naming it.
//
// Limits: nothing stops the DUT from using the card while it is open; the
// composing DUT must keep it powered off (Storage.Power). Tested with a
// regular file standing in for the node, and with a loop device when the
// tests run as root.
package blockdev
