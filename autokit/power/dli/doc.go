// Package dli drives an outlet of a Digital Loggers web power switch (the
// Wi-Fi / Atheros-based models with the REST API enabled under External
// APIs) through its REST API:
// PUT /restapi/relay/outlets/N/state/ with the form body value=true|false
// and the header X-CSRF: x switches outlet N (numbered from 0, as the REST
// API counts; the web UI shows N+1), and
// GET /restapi/relay/outlets/N/physical_state/ reports the relay itself.
//
// On and Off switch, then poll the physical state until it follows (the
// relay can lag the command; the poll is bounded by POWER_SETTLE and the
// context) and fail when it does not. State reads the physical state every
// time; firmware without physical_state falls back to the (persistent)
// state resource. The device uses HTTP digest authentication.
//
// Limits: token-based access (firmware 1.10+) is not supported; the
// transient state and cycle() are not used.
package dli
