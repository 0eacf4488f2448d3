// Package pduhttp is the HTTP client shared by the network PDU and smart
// plug drivers (tasmota, shelly, dli, pdudaemon).
//
// Every request runs under the caller's context and a per-attempt timeout
// (5 s by default). Connection errors — refused, reset, or an attempt that
// timed out — are retried a bounded number of times (2 by default) with a
// short back-off; an HTTP answer of any status is never retried. Basic and
// digest authentication (RFC 7616: MD5 and SHA-256, qop "auth") are
// supported. Failures come back as *Error, which carries the evidence: the
// method, the URL with credentials removed, the HTTP status and the first
// bytes of the body. Error strings start with the driver's package name.
//
// Limits: digest "auth-int", "-sess" algorithms and userhash are not
// supported; bodies larger than 1 MiB are truncated.
package pduhttp
