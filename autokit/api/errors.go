package api

import "net/http"

// ErrorCode is the stable, machine-readable kind of an error answer: a
// client switches on it, never on the words of the message, which may
// change. Each code answers with one HTTP status (Status); a status may
// carry several codes. docs/worker-api.md says what a client does about
// each.
type ErrorCode string

// The codes the worker answers with.
const (
	// CodeBadRequest: the request is malformed (JSON, regexp, query value,
	// suite name, environment variable).
	CodeBadRequest ErrorCode = "bad_request"
	// CodeCanceled: the client went away (or its upload broke off) before
	// the worker finished; nobody normally reads it.
	CodeCanceled ErrorCode = "canceled"
	// CodeUnauthorized: no credential, or a wrong one, or the id of a lease
	// that has ended.
	CodeUnauthorized ErrorCode = "unauthorized"
	// CodeForbidden: the credential is a lease's and the request is out of
	// its scope (needs the worker's token, or names another lease), or the
	// testrunner image is not one the worker runs.
	CodeForbidden ErrorCode = "forbidden"
	// CodeNotFound: no such endpoint, cached image, listener or report.
	CodeNotFound ErrorCode = "not_found"
	// CodeLeaseUnknown: the lease to renew or release is unknown or has
	// expired.
	CodeLeaseUnknown ErrorCode = "lease_unknown"
	// CodeMethodNotAllowed: the path exists with other methods (the Allow
	// header lists them).
	CodeMethodNotAllowed ErrorCode = "method_not_allowed"
	// CodeLeaseHeld: another live lease holds the DUT.
	CodeLeaseHeld ErrorCode = "lease_held"
	// CodeBusy: a flash or a testrunner run is already going.
	CodeBusy ErrorCode = "busy"
	// CodePoweredOn: the DUT must be off for this (flashing).
	CodePoweredOn ErrorCode = "powered_on"
	// CodePoweredOff: the DUT must be on for this (waiting for it).
	CodePoweredOff ErrorCode = "powered_off"
	// CodeLimitReached: too many listeners are open.
	CodeLimitReached ErrorCode = "limit_reached"
	// CodeReplayDivergence: never the worker's. `leviathan replay`'s
	// stand-in answers it to a call its recording does not hold: the
	// suite no longer makes the calls it made when the session was
	// recorded.
	CodeReplayDivergence ErrorCode = "replay_divergence"
	// CodeListenerClosed: the listener closed while waiting for the DUT.
	CodeListenerClosed ErrorCode = "listener_closed"
	// CodeTooLarge: the suite upload exceeds what a lease may keep.
	CodeTooLarge ErrorCode = "too_large"
	// CodeChecksumMismatch: the decompressed image's SHA-256 is not the
	// one the request gave.
	CodeChecksumMismatch ErrorCode = "checksum_mismatch"
	// CodeNotDiskImage: the decompressed image has no partition table.
	CodeNotDiskImage ErrorCode = "not_disk_image"
	// CodeImageTooLarge: the image expands past the medium's capacity.
	CodeImageTooLarge ErrorCode = "image_too_large"
	// CodeBadImage: the image cannot be flashed for another reason (a
	// corrupt compressed stream, a zip of several images).
	CodeBadImage ErrorCode = "bad_image"
	// CodeLeaseRequired: the request needs the live lease and sent none,
	// or the DUT is not leased.
	CodeLeaseRequired ErrorCode = "lease_required"
	// CodeLeaseStale: the request sent a lease that is not the live one
	// (expired, released, or another's).
	CodeLeaseStale ErrorCode = "lease_stale"
	// CodeInternal: a fault of the worker itself (provisioning the flashed
	// image, its disk, powering off after a release).
	CodeInternal ErrorCode = "internal"
	// CodeNotSupported: the DUT lacks the capability the endpoint needs,
	// or the worker has no testrunner.
	CodeNotSupported ErrorCode = "not_supported"
	// CodeDeviceError: the DUT's hardware failed (power, storage, console,
	// screen, keyboard, network address).
	CodeDeviceError ErrorCode = "device_error"
	// CodeDUTUnreachable: the DUT does not answer over SSH (not booted).
	CodeDUTUnreachable ErrorCode = "dut_unreachable"
	// CodePortClosed: nothing listens on the DUT's port the tunnel asked
	// for.
	CodePortClosed ErrorCode = "port_closed"
	// CodeBootFailed: the DUT failed while booting (a fatal console line,
	// or it powered off).
	CodeBootFailed ErrorCode = "boot_failed"
	// CodeProcedureFailed: a step of the worker's flashing procedure
	// failed; the DUT was powered off.
	CodeProcedureFailed ErrorCode = "procedure_failed"
	// CodeTestrunnerFailed: the worker could not run or pull the
	// testrunner container.
	CodeTestrunnerFailed ErrorCode = "testrunner_failed"
	// CodeTimeout: the DUT did not answer in time (expect, wait-online,
	// exec's SSH connection).
	CodeTimeout ErrorCode = "timeout"
)

// errorCodes is every code, in the order docs/worker-api.md lists them,
// with its status.
var errorCodes = []struct {
	code   ErrorCode
	status int
}{
	{CodeBadRequest, http.StatusBadRequest},
	{CodeCanceled, http.StatusBadRequest},
	{CodeUnauthorized, http.StatusUnauthorized},
	{CodeForbidden, http.StatusForbidden},
	{CodeNotFound, http.StatusNotFound},
	{CodeLeaseUnknown, http.StatusNotFound},
	{CodeMethodNotAllowed, http.StatusMethodNotAllowed},
	{CodeLeaseHeld, http.StatusConflict},
	{CodeBusy, http.StatusConflict},
	{CodePoweredOn, http.StatusConflict},
	{CodePoweredOff, http.StatusConflict},
	{CodeLimitReached, http.StatusConflict},
	{CodeReplayDivergence, http.StatusConflict},
	{CodeListenerClosed, http.StatusGone},
	{CodeTooLarge, http.StatusRequestEntityTooLarge},
	{CodeChecksumMismatch, http.StatusUnprocessableEntity},
	{CodeNotDiskImage, http.StatusUnprocessableEntity},
	{CodeImageTooLarge, http.StatusUnprocessableEntity},
	{CodeBadImage, http.StatusUnprocessableEntity},
	{CodeLeaseRequired, http.StatusLocked},
	{CodeLeaseStale, http.StatusLocked},
	{CodeInternal, http.StatusInternalServerError},
	{CodeNotSupported, http.StatusNotImplemented},
	{CodeDeviceError, http.StatusBadGateway},
	{CodeDUTUnreachable, http.StatusBadGateway},
	{CodePortClosed, http.StatusBadGateway},
	{CodeBootFailed, http.StatusBadGateway},
	{CodeProcedureFailed, http.StatusBadGateway},
	{CodeTestrunnerFailed, http.StatusBadGateway},
	{CodeTimeout, http.StatusGatewayTimeout},
}

// ErrorCodes lists every code the worker answers with.
func ErrorCodes() []ErrorCode {
	cs := make([]ErrorCode, len(errorCodes))
	for i, c := range errorCodes {
		cs[i] = c.code
	}
	return cs
}

// Status is the HTTP status an error with code c answers with; 500 for a
// code the API does not define.
func (c ErrorCode) Status() int {
	for _, e := range errorCodes {
		if e.code == c {
			return e.status
		}
	}
	return http.StatusInternalServerError
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	// Error explains, for people, what went wrong and what to do.
	Error string `json:"error"`
	// Code is the error's kind, for programs; never empty from the
	// worker.
	Code ErrorCode `json:"code"`
}
