// Package power chooses and builds the DUT's power driver from
// configuration: POWER names the driver and POWER_* variables carry its
// parameters.
//
//	POWER=tasmota   POWER_URL, POWER_CHANNEL (1), POWER_USER, POWER_PASSWORD, POWER_TIMEOUT
//	POWER=shelly    POWER_URL, POWER_CHANNEL (0), POWER_USER (admin), POWER_PASSWORD, POWER_TIMEOUT
//	POWER=dli       POWER_URL, POWER_OUTLET (0), POWER_USER (admin), POWER_PASSWORD, POWER_TIMEOUT, POWER_SETTLE
//	POWER=pdudaemon POWER_URL, POWER_HOSTNAME + POWER_PORT or POWER_ALIAS, POWER_DELAY (0), POWER_TIMEOUT
//	POWER=button    POWER_CHANNEL, POWER_PRESS_ON (500ms), POWER_PRESS_OFF (5s), POWER_SETTLE; needs WithRelay
//	POWER=relay     POWER_CHANNEL, POWER_NORMALLY_CLOSED (false); needs WithRelay
//	POWER=dummy     POWER_INITIAL (off)
//
// The drivers are a fixed table in this package (Drivers lists them), not a
// registry that other packages add to. Each driver's parameters are its
// package's Config struct with envconfig tags; Open reads them through a
// getenv function so tests and callers can pass any source, with
// envconfig's rules (the POWER_ prefix, the required and default tags);
// Usage prints them with envconfig. Everything is checked at Open: an
// unknown driver name gives an error listing the allowed ones, a missing or
// malformed variable one naming it. Open contacts no device; a worker that
// wants to probe it calls State.
//
// Limits: the relay and button drivers get their relay (a USB HID relay
// board or GPIO lines, DIGITAL_RELAY) from the caller (WithRelay); the
// relay driver's state is the relay's, read back, not a sensor's.
package power
