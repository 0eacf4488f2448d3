package gpiorelay

import (
	"fmt"

	"github.com/kelseyhightower/envconfig"
)

// Config is the wiring of the relays.
type Config struct {
	// Chip is the GPIO character device (PREFIX_CHIP, e.g. /dev/gpiochip0).
	Chip string `envconfig:"CHIP"`
	// Lines are the line offsets on the chip, channel 1 first
	// (PREFIX_LINES, comma-separated: "17,27").
	Lines []int `envconfig:"LINES"`
	// ActiveLow says the relays close on a low level (PREFIX_ACTIVE_LOW).
	ActiveLow bool `envconfig:"ACTIVE_LOW"`

	prefix string
}

// LoadConfig reads the configuration from the environment under prefix
// ("DIGITAL_RELAY": DIGITAL_RELAY_CHIP, DIGITAL_RELAY_LINES,
// DIGITAL_RELAY_ACTIVE_LOW). Errors name the variable.
func LoadConfig(prefix string) (Config, error) {
	c := Config{prefix: prefix}
	if err := envconfig.Process(prefix, &c); err != nil {
		return c, fmt.Errorf("gpiorelay: configuration: %w", err)
	}
	return c, c.validate()
}

func (c Config) validate() error {
	p := c.prefix
	if p == "" {
		p = "DIGITAL_RELAY"
	}
	if c.Chip == "" {
		return fmt.Errorf("gpiorelay: %s_CHIP is empty: set it to the GPIO chip, e.g. /dev/gpiochip0", p)
	}
	if len(c.Lines) == 0 {
		return fmt.Errorf("gpiorelay: %s_LINES is empty: set it to the relays' line offsets, channel 1 first, e.g. 17,27", p)
	}
	seen := map[int]bool{}
	for _, l := range c.Lines {
		if l < 0 || l > 0xffff || seen[l] {
			return fmt.Errorf("gpiorelay: %s_LINES=%v: offsets must be distinct and not negative", p, c.Lines)
		}
		seen[l] = true
	}
	return nil
}
