// Package client is the Go client of the worker HTTP API (package worker),
// used by suites, the runner hook and the CLI. Every endpoint has a
// method; non-2xx answers become *Error, an unreachable worker
// *UnreachableError. An *Error carries the worker's api.ErrorCode: callers
// switch on it with ErrorCode(err) or IsCode(err, api.CodeLeaseHeld), not
// on the message's words.
//
// A Client remembers the lease it took (Lease) or was given (WithLease)
// and sends it on every request that changes the DUT. KeepAlive renews a
// lease in the background, measuring its intervals by the client's Clock
// (WithClock; the system clock by default).
//
// Limits: the client does not retry; streaming calls (FollowSerial, Exec,
// Flash) last as long as their context; there is no TLS configuration
// beyond what WithHTTPClient brings.
package client
