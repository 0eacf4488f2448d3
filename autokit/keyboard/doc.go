// Package keyboard picks the DUT keyboard driver from the environment:
// KEYBOARD=hidgadget (package hidgadget) with KEYBOARD_DEVICE (the gadget's
// /dev/hidgN, /dev/hidg0 by default) and KEYBOARD_HOLD (how long keys stay
// down, 20ms by default).
//
// Limits: one driver so far; the variables are read with the same rules as
// package power's Load (envconfig tags, "default" and "required").
package keyboard
