package sdwire

import (
	"fmt"
	"time"
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

// Validate checks c. Errors name the variable.
func (c Config) Validate() error {
	switch {
	case c.Serial == "":
		return fmt.Errorf("sdwire: SD_MUX_SERIAL is empty: set it to the SDWire's USB serial (sd-mux-ctrl --list shows it)")
	case c.Device == "":
		return fmt.Errorf("sdwire: SD_MUX_DEVICE is empty: set it to the card's /dev/disk/by-id path")
	case c.Timeout <= 0:
		return fmt.Errorf("sdwire: SD_MUX_TIMEOUT=%v: must be positive", c.Timeout)
	}
	return nil
}
