// Package button powers a board that has a power button instead of a
// switchable supply: a relay (any dut.Relay, on one channel) is wired
// across the button, and the driver presses it — closed for POWER_PRESS_ON
// (500 ms by default) to turn the board on, held for POWER_PRESS_OFF (5 s)
// to force it off. It composes a dut.Relay; it does not know what kind of
// relay it is.
//
// The relay is always released, even when the context ends mid-press.
//
// The state: with a sensor (WithSensor: a function that reads, say, a GPIO
// on the board's power LED or the DUT network's carrier), On and Off press
// only when the sensor says the board is not already in the wanted state,
// then wait up to POWER_SETTLE for the sensor to agree, and State reads the
// sensor. Without a sensor the driver cannot see the board: State returns
// the last state it commanded (an error wrapping ErrUnknown before the
// first On or Off), On does not press when it last turned the board on
// (a second press could turn it off), and Off does not hold when it last
// turned the board off. So the first Off after start always holds the
// button; boards where holding the button of an off board turns it on need
// a sensor.
package button
