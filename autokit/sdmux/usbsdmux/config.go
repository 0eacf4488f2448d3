package usbsdmux

import (
	"fmt"
	"time"
)

// Config is the wiring of one USB-SD-Mux.
type Config struct {
	// SG is the mux's SCSI generic node (SD_MUX_SG, e.g. /dev/sg1).
	SG string `envconfig:"SG"`
	// Device is the card's block device, a stable path (SD_MUX_DEVICE,
	// /dev/disk/by-id/usb-LinuxAut_sdmux_HS-SD_MMC_…-0:0).
	Device string `envconfig:"DEVICE"`
	// Timeout bounds the wait for Device after a switch (SD_MUX_TIMEOUT).
	Timeout time.Duration `envconfig:"TIMEOUT" default:"10s"`
	// Settle is how long the card stays unpowered between sides
	// (SD_MUX_SETTLE).
	Settle time.Duration `envconfig:"SETTLE" default:"1s"`
	// Direct opens the card with O_DIRECT (SD_MUX_DIRECT).
	Direct bool `envconfig:"DIRECT"`
}

// Validate checks c. Errors name the variable.
func (c Config) Validate() error {
	switch {
	case c.SG == "":
		return fmt.Errorf("usbsdmux: SD_MUX_SG is empty: set it to the mux's /dev/sgN node (lsscsi -g lists it): %w", errNoSG)
	case c.Device == "":
		return fmt.Errorf("usbsdmux: SD_MUX_DEVICE is empty: set it to the card's /dev/disk/by-id/usb-LinuxAut_sdmux_… path")
	case c.Timeout <= 0:
		return fmt.Errorf("usbsdmux: SD_MUX_TIMEOUT=%v: must be positive", c.Timeout)
	case c.Settle < 0:
		return fmt.Errorf("usbsdmux: SD_MUX_SETTLE=%v: must not be negative", c.Settle)
	}
	return nil
}
