// Package api holds the wire types and paths of the worker HTTP API, shared
// by the server (package worker) and the Go client (package client).
//
// Every body is JSON with snake_case names, except the flash upload (the
// image bytes), the serial log (text/plain), serial input (raw bytes), the
// screenshot (image/png), the exec stream (newline-delimited JSON
// frames, see ExecFrame) and the session recording (application/gzip, see
// package session). Errors are always an ErrorBody: a message for
// people and a stable ErrorCode for programs, with the HTTP status the code
// maps to (ErrorCode.Status); docs/worker-api.md describes every endpoint
// and every code.
//
// Limits: version 1 of the API only; the package has no behaviour beyond
// building paths.
package api
