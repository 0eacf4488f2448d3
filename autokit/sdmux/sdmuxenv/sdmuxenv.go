// Package sdmuxenv picks the storage mux driver from the environment:
// SD_MUX=usbsdmux (SD_MUX_SG, SD_MUX_DEVICE, SD_MUX_TIMEOUT, SD_MUX_SETTLE),
// SD_MUX=sdwire (SD_MUX_SERIAL, SD_MUX_DEVICE, SD_MUX_TIMEOUT) or
// SD_MUX=blockdev (SD_MUX_DEVICE, SD_MUX_TIMEOUT); all take SD_MUX_DIRECT.
package sdmuxenv

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/balena/leviathan-action/autokit/sdmux"
	"github.com/balena/leviathan-action/autokit/sdmux/blockdev"
	"github.com/balena/leviathan-action/autokit/sdmux/sdwire"
	"github.com/balena/leviathan-action/autokit/sdmux/usbsdmux"
)

// Drivers are the allowed SD_MUX values.
var Drivers = []string{"usbsdmux", "sdwire", "blockdev"}

// Open builds the storage SD_MUX names; nil, nil when it is unset. Set the
// returned Storage's Power so that Open refuses while the DUT is powered.
func Open(log *slog.Logger) (*sdmux.Storage, error) {
	switch kind := os.Getenv("SD_MUX"); kind {
	case "":
		return nil, nil
	case "usbsdmux":
		cfg, err := usbsdmux.LoadConfig()
		if err != nil {
			return nil, err
		}
		opts := []usbsdmux.Option{}
		if log != nil {
			opts = append(opts, usbsdmux.WithLogger(log))
		}
		s, _ := usbsdmux.New(cfg, opts...)
		return s, nil
	case "sdwire":
		cfg, err := sdwire.LoadConfig()
		if err != nil {
			return nil, err
		}
		opts := []sdwire.Option{}
		if log != nil {
			opts = append(opts, sdwire.WithLogger(log))
		}
		s, _, err := sdwire.New(cfg, opts...)
		return s, err
	case "blockdev":
		cfg, err := blockdev.LoadConfig()
		if err != nil {
			return nil, err
		}
		return blockdev.New(cfg, log), nil
	default:
		return nil, fmt.Errorf("sdmuxenv: SD_MUX=%q is not one of %v", kind, Drivers)
	}
}
