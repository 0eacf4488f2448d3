// Package relayenv picks the digital relay driver from the environment:
// DIGITAL_RELAY=hid (hidrelay: DIGITAL_RELAY_SERIAL, DIGITAL_RELAY_CHANNELS)
// or DIGITAL_RELAY=gpio (gpiorelay: DIGITAL_RELAY_CHIP, DIGITAL_RELAY_LINES,
// DIGITAL_RELAY_ACTIVE_LOW). It is separate from package relay so that the
// drivers can import relay.
package relayenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/balena/leviathan-action/autokit/relay"
	"github.com/balena/leviathan-action/autokit/relay/gpiorelay"
	"github.com/balena/leviathan-action/autokit/relay/hidrelay"
)

// Drivers are the allowed DIGITAL_RELAY values.
var Drivers = []string{"hid", "gpio"}

// Relay is an opened relay driver.
type Relay interface {
	relay.StateRelay
	io.Closer
}

// Open opens the relay DIGITAL_RELAY names; nil, nil when it is unset.
func Open(ctx context.Context, log *slog.Logger) (Relay, error) {
	switch kind := os.Getenv("DIGITAL_RELAY"); kind {
	case "":
		return nil, nil
	case "hid":
		cfg, err := hidrelay.LoadConfig("DIGITAL_RELAY")
		if err != nil {
			return nil, err
		}
		opts := []hidrelay.Option{}
		if log != nil {
			opts = append(opts, hidrelay.WithLogger(log))
		}
		return hidrelay.Open(ctx, cfg, opts...)
	case "gpio":
		cfg, err := gpiorelay.LoadConfig("DIGITAL_RELAY")
		if err != nil {
			return nil, err
		}
		opts := []gpiorelay.Option{}
		if log != nil {
			opts = append(opts, gpiorelay.WithLogger(log))
		}
		return gpiorelay.Open(ctx, cfg, opts...)
	default:
		return nil, fmt.Errorf("relayenv: DIGITAL_RELAY=%q is not one of %v", kind, Drivers)
	}
}
