// Package dummy is an in-memory dut.Power for worker tests and dry runs:
// On and Off set a variable, State reads it. Nothing is switched.
//
// Tests can preset the state (Set) and make every call fail (SetError) to
// exercise a caller's error paths. Calls honour an already-cancelled
// context like a real driver.
package dummy
