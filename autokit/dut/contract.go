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

// Capabilities lists which capability interfaces d implements, in a fixed
// order. It is the DUT's contract as the worker reports it.
func Capabilities(d any) []Capability {
	var caps []Capability
	add := func(ok bool, c Capability) {
		if ok {
			caps = append(caps, c)
		}
	}
	_, power := d.(Power)
	_, storage := d.(Storage)
	_, console := d.(Console)
	_, network := d.(Network)
	_, screen := d.(Screen)
	_, keyboard := d.(Keyboard)
	_, relay := d.(Relay)
	add(power, CapPower)
	add(storage, CapStorage)
	add(console, CapConsole)
	add(network, CapNetwork)
	add(screen, CapScreen)
	add(keyboard, CapKeyboard)
	add(relay, CapRelay)
	return caps
}
