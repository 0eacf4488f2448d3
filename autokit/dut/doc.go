// Package dut defines the capability interfaces of a device under test (DUT):
// power, storage (the flash target), serial console, network, screen,
// keyboard and digital relays.
//
// A driver implements the capabilities it has; callers discover optional ones
// by type assertion (see Capabilities). QemuKit and the AutoKit hardware
// drivers implement the same interfaces, so a suite cannot tell a virtual
// DUT from a board except through its contract.
//
// This package imports no driver, no QEMU and no GitHub code; a dependency
// test keeps it that way.
package dut
