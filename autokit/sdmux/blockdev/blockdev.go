package blockdev

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/balena/leviathan-action/autokit/sdmux"
)

// Config is the wiring of the block device.
type Config struct {
	// Device is the node, a stable path (SD_MUX_DEVICE).
	Device string `envconfig:"DEVICE"`
	// Timeout bounds the wait for Device (SD_MUX_TIMEOUT).
	Timeout time.Duration `envconfig:"TIMEOUT" default:"10s"`
	// Direct opens Device with O_DIRECT (SD_MUX_DIRECT).
	Direct bool `envconfig:"DIRECT"`
}

// LoadConfig reads SD_MUX_DEVICE, SD_MUX_TIMEOUT and SD_MUX_DIRECT. Errors
// name the variable.
func LoadConfig() (Config, error) {
	var c Config
	if err := envconfig.Process("SD_MUX", &c); err != nil {
		return c, fmt.Errorf("blockdev: configuration: %w", err)
	}
	switch {
	case c.Device == "":
		return c, fmt.Errorf("blockdev: SD_MUX_DEVICE is empty: set it to the card reader's /dev/disk/by-id path")
	case c.Timeout <= 0:
		return c, fmt.Errorf("blockdev: SD_MUX_TIMEOUT=%v: must be positive", c.Timeout)
	}
	return c, nil
}

// New is the block device as a dut.Storage.
func New(cfg Config, log *slog.Logger) *sdmux.Storage {
	return &sdmux.Storage{Name: "blockdev", Device: cfg.Device, Timeout: cfg.Timeout, Direct: cfg.Direct, Logger: log}
}
