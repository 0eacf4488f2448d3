// Package shelly drives a switch of a Shelly Gen2 (or later) device
// (Plus, Pro, Mini) through its RPC over HTTP GET:
// /rpc/Switch.Set?id=N&on=true|false switches, and
// /rpc/Switch.GetStatus?id=N reports the switch, whose "output" field is
// the relay's state.
//
// On and Off switch and then read the status back, failing when output did
// not follow; State reads the status every time. When a password is set the
// device demands HTTP digest authentication (SHA-256, user "admin"), which
// the driver answers. A device that answers with an RPC error (a non-200
// status with {"code":…, "message":…}) gives an error carrying both.
//
// Limits: Gen1 devices (/relay/N) are not supported; the switch must not
// have an auto-off or auto-on timer configured.
package shelly
