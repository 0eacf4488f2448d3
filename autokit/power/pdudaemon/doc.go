// Package pdudaemon switches a PDU port through a PDUDaemon server's HTTP
// listener: GET /power/control/on|off?hostname=<pdu>&port=<port>&delay=<s>
// (or alias=<name> instead of hostname and port). PDUDaemon answers 200
// when it has queued the request and 500 with the reason when it refuses
// it (unknown PDU or alias, missing parameter).
//
// PDUDaemon cannot report a port's state, and it acknowledges a request
// when it queues it, not when the PDU has switched. So On and Off confirm
// only that PDUDaemon accepted the request (after POWER_DELAY seconds, 0 by
// default — PDUDaemon's own default is 5 — plus its queueing, the port
// switches), and State returns the last state this driver commanded. Before
// the first On or Off it returns an error wrapping ErrUnknown. Switching the
// port by other means is invisible to this driver.
package pdudaemon
