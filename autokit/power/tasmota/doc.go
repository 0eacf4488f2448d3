// Package tasmota drives a relay of a smart plug or relay board running
// Tasmota firmware, through its HTTP command interface:
// GET /cm?cmnd=Power<N> On|Off switches relay N, and GET /cm?cmnd=Power<N>
// reads it; the device answers {"POWER<N>":"ON"|"OFF"} (or {"POWER":...}
// for the first relay of a one-relay device).
//
// On and Off send the command and check the state the device reports in
// its answer; State asks the device every time. When a web password is
// set, it goes in the user and password query parameters, as Tasmota
// expects (errors and logs show it as xxxxx). Tasmota answers a wrong
// password or an unknown relay with HTTP 200 and a JSON warning; the driver
// turns those into errors.
//
// Limits: plain HTTP as Tasmota serves it (no TLS unless a proxy adds it);
// the relay must not be configured as a pulse/interlock relay that switches
// itself back.
package tasmota
