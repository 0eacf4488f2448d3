package dut

// Capability names one optional DUT interface.
type Capability string

// Capabilities a DUT can offer.
const (
	CapPower    Capability = "power"
	CapStorage  Capability = "storage"
	CapConsole  Capability = "console"
	CapNetwork  Capability = "network"
	CapScreen   Capability = "screen"
	CapKeyboard Capability = "keyboard"
	CapRelay    Capability = "relay"
)

// Composed is implemented by a DUT assembled at run time from separate
// drivers (a board wired to a relay, a mux, a serial adapter…): its Go
// type has every capability's methods, and Has says which it offers.
type Composed interface {
	Has(Capability) bool
}

// As returns d as the capability interface T when d offers capability c:
// d implements T and, if it is Composed, has c. Callers use it instead of
// a plain type assertion, so a board without a screen has no screen.
func As[T any](d any, c Capability) (T, bool) {
	v, ok := d.(T)
	if !ok {
		return v, false
	}
	if cd, composed := d.(Composed); composed && !cd.Has(c) {
		var zero T
		return zero, false
	}
	return v, true
}

// Capabilities lists the capabilities d offers (see As), in a fixed
// order. It is the DUT's contract as the worker reports it.
func Capabilities(d any) []Capability {
	var caps []Capability
	add := func(ok bool, c Capability) {
		if ok {
			caps = append(caps, c)
		}
	}
	_, power := As[Power](d, CapPower)
	_, storage := As[Storage](d, CapStorage)
	_, console := As[Console](d, CapConsole)
	_, network := As[Network](d, CapNetwork)
	_, screen := As[Screen](d, CapScreen)
	_, keyboard := As[Keyboard](d, CapKeyboard)
	_, relay := As[Relay](d, CapRelay)
	add(power, CapPower)
	add(storage, CapStorage)
	add(console, CapConsole)
	add(network, CapNetwork)
	add(screen, CapScreen)
	add(keyboard, CapKeyboard)
	add(relay, CapRelay)
	return caps
}
