package blockdev

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/balena/leviathan-action/autokit/sdmux"
)

// Config is the wiring of the block device. The envconfig tags name the
// variables after the SD_MUX_ prefix.
type Config struct {
	// Device is the node, a stable path (SD_MUX_DEVICE).
	Device string `envconfig:"DEVICE"`
	// Timeout bounds the wait for Device (SD_MUX_TIMEOUT).
	Timeout time.Duration `envconfig:"TIMEOUT" default:"10s"`
	// Direct opens Device with O_DIRECT (SD_MUX_DIRECT).
	Direct bool `envconfig:"DIRECT"`
}

// Validate checks c. Errors name the variable.
func (c Config) Validate() error {
	switch {
	case c.Device == "":
		return fmt.Errorf("blockdev: SD_MUX_DEVICE is empty: set it to the card reader's /dev/disk/by-id path")
	case c.Timeout <= 0:
		return fmt.Errorf("blockdev: SD_MUX_TIMEOUT=%v: must be positive", c.Timeout)
	}
	return nil
}

// New is the block device as a dut.Storage.
func New(cfg Config, log *slog.Logger) *sdmux.Storage {
	return &sdmux.Storage{Name: "blockdev", Device: cfg.Device, Timeout: cfg.Timeout, Direct: cfg.Direct, Logger: log}
}
