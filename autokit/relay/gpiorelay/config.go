package gpiorelay

import "fmt"

// Config is the wiring of the relays. The envconfig tags name the
// variables after the DIGITAL_RELAY_ prefix.
type Config struct {
	// Chip is the GPIO character device (DIGITAL_RELAY_CHIP, e.g.
	// /dev/gpiochip0).
	Chip string `envconfig:"CHIP" desc:"GPIO character device, e.g. /dev/gpiochip0"`
	// Lines are the line offsets on the chip, channel 1 first
	// (DIGITAL_RELAY_LINES, comma-separated: "17,27").
	Lines []int `envconfig:"LINES" desc:"line offsets on the chip, channel 1 first, e.g. 17,27"`
	// ActiveLow says the relays close on a low level
	// (DIGITAL_RELAY_ACTIVE_LOW).
	ActiveLow bool `envconfig:"ACTIVE_LOW" desc:"the relays close on a low level"`
}

// Validate checks c. Errors name the variable.
func (c Config) Validate() error {
	if c.Chip == "" {
		return fmt.Errorf("gpiorelay: DIGITAL_RELAY_CHIP is empty: set it to the GPIO chip, e.g. /dev/gpiochip0")
	}
	if len(c.Lines) == 0 {
		return fmt.Errorf("gpiorelay: DIGITAL_RELAY_LINES is empty: set it to the relays' line offsets, channel 1 first, e.g. 17,27")
	}
	seen := map[int]bool{}
	for _, l := range c.Lines {
		if l < 0 || l > 0xffff || seen[l] {
			return fmt.Errorf("gpiorelay: DIGITAL_RELAY_LINES=%v: offsets must be distinct and not negative", c.Lines)
		}
		seen[l] = true
	}
	return nil
}
