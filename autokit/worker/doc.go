// Package worker serves the worker HTTP API for one DUT: leases, power,
// flashing, serial console, command execution over SSH, waiting for the
// DUT to come online, network address, screen and keyboard. The wire types
// are in package api, the Go client in package client, and
// docs/worker-api.md documents every endpoint.
//
// A Worker owns one dut.DUT. Optional capabilities are found by type
// assertion; an endpoint whose capability the DUT lacks answers 501. Every
// request that changes the DUT needs the current lease's id; a lease that
// is not renewed before its TTL expires is reaped by a background loop
// that powers the DUT off and closes SSH. Leases are measured by the
// worker's Clock (WithClock; workertest.Clock in tests).
//
// Every error answer is an api.ErrorBody whose code (an api.ErrorCode)
// fixes its HTTP status. Handler is built from one route table; Routes
// lists it, and a test holds docs/worker-api.md to it.
//
// Limits:
//   - One DUT per worker, one lease at a time, one flash at a time.
//   - Commands run as root over one persistent SSH connection whose host
//     key is not verified (see package sshexec).
//   - The token is a single shared secret compared in constant time; there
//     are no users or roles, and TLS is left to a reverse proxy.
//   - Leases live in memory: restarting the worker frees the DUT.
//   - Exec stdin is a JSON string, so it carries text, not arbitrary bytes.
package worker
