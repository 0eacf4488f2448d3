// Package workertest holds what tests of the worker and of its callers
// need: Clock, a manual clock that drives lease expiry, the worker's reaper
// and the client's KeepAlive without waiting on the wall clock.
//
// Limits: Clock moves only when told (Advance); code that also waits on
// real time (context deadlines, HTTP timeouts) still does.
package workertest
