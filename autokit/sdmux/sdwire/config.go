package sdwire

import (
	"fmt"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Config is the wiring of one SDWire.
type Config struct {
	// Serial is the board's USB serial number (SD_MUX_SERIAL,
	// "sd-wire_11").
	Serial string `envconfig:"SERIAL"`
	// Device is the card's block device, a stable path (SD_MUX_DEVICE).
	Device string `envconfig:"DEVICE"`
	// Timeout bounds the wait for Device after a switch (SD_MUX_TIMEOUT).
	Timeout time.Duration `envconfig:"TIMEOUT" default:"10s"`
	// Direct opens the card with O_DIRECT (SD_MUX_DIRECT).
	Direct bool `envconfig:"DIRECT"`
}

// LoadConfig reads SD_MUX_SERIAL, SD_MUX_DEVICE, SD_MUX_TIMEOUT and
// SD_MUX_DIRECT. Errors name the variable.
func LoadConfig() (Config, error) {
	var c Config
	if err := envconfig.Process("SD_MUX", &c); err != nil {
		return c, fmt.Errorf("sdwire: configuration: %w", err)
	}
	switch {
	case c.Serial == "":
		return c, fmt.Errorf("sdwire: SD_MUX_SERIAL is empty: set it to the SDWire's USB serial (sd-mux-ctrl --list shows it)")
	case c.Device == "":
		return c, fmt.Errorf("sdwire: SD_MUX_DEVICE is empty: set it to the card's /dev/disk/by-id path")
	case c.Timeout <= 0:
		return c, fmt.Errorf("sdwire: SD_MUX_TIMEOUT=%v: must be positive", c.Timeout)
	}
	return c, nil
}
