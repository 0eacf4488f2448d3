package hidrelay

import "fmt"

// Config is the wiring of one board. The envconfig tags name the
// variables after the DIGITAL_RELAY_ prefix.
type Config struct {
	// Serial is the board's serial number, as `usbrelay` prints it
	// (DIGITAL_RELAY_SERIAL, required).
	Serial string `envconfig:"SERIAL" required:"true" desc:"the board's serial number, as usbrelay lists it"`
	// Channels overrides the channel count taken from the product name
	// (DIGITAL_RELAY_CHANNELS).
	Channels int `envconfig:"CHANNELS" desc:"channel count, 1 to 8, when the product name does not say"`
}

// Validate checks c. Errors name the variable.
func (c Config) Validate() error {
	if c.Serial == "" {
		return fmt.Errorf("hidrelay: DIGITAL_RELAY_SERIAL is empty: set it to the board's serial number (usbrelay lists them)")
	}
	if c.Channels < 0 || c.Channels > 8 {
		return fmt.Errorf("hidrelay: DIGITAL_RELAY_CHANNELS=%d: must be between 1 and 8", c.Channels)
	}
	return nil
}
