package hidrelay

import (
	"fmt"

	"github.com/kelseyhightower/envconfig"
)

// Config is the wiring of one board.
type Config struct {
	// Serial is the board's serial number, as `usbrelay` prints it
	// (PREFIX_SERIAL, required).
	Serial string `envconfig:"SERIAL" required:"true"`
	// Channels overrides the channel count taken from the product name
	// (PREFIX_CHANNELS).
	Channels int `envconfig:"CHANNELS"`
}

// LoadConfig reads the configuration from the environment under prefix:
// "DIGITAL_RELAY" reads DIGITAL_RELAY_SERIAL and DIGITAL_RELAY_CHANNELS; a
// power relay would use its own prefix. Errors name the variable.
func LoadConfig(prefix string) (Config, error) {
	var c Config
	if err := envconfig.Process(prefix, &c); err != nil {
		return c, fmt.Errorf("hidrelay: configuration: %w", err)
	}
	if c.Serial == "" {
		return c, fmt.Errorf("hidrelay: %s_SERIAL is empty: set it to the board's serial number (usbrelay lists them)", prefix)
	}
	if c.Channels < 0 || c.Channels > 8 {
		return c, fmt.Errorf("hidrelay: %s_CHANNELS=%d: must be between 1 and 8", prefix, c.Channels)
	}
	return c, nil
}
