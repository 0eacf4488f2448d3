// Package relay holds what the relay drivers share: the optional Stater
// capability (a relay that can report a channel's state) and Power, which
// turns one relay channel into a dut.Power.
//
// Channels are numbered from 1, as relay boards label them. The drivers
// live in subpackages: hidrelay (USB HID relay boards through hidraw) and
// gpiorelay (relays on Linux GPIO character devices); relaytest is the
// conformance suite every dut.Relay passes, and relayenv picks a driver from
// the DIGITAL_RELAY configuration.
package relay
