package relaytest

import (
	"testing"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/power/powertest"
	"github.com/balena/leviathan-action/autokit/relay"
)

func TestFake(t *testing.T) { Conformance(t, &Fake{N: 4}, 4) }

// TestPowerConformance runs the dut.Power suite against POWER=relay's
// adapter, both wirings; the HID and GPIO drivers run the relay suite
// over their recorded ioctl sequences.
func TestPowerConformance(t *testing.T) {
	for _, nc := range []bool{false, true} {
		p, err := relay.NewPower(&Fake{N: 2}, relay.PowerConfig{Channel: 2, NormallyClosed: nc})
		if err != nil {
			t.Fatal(err)
		}
		powertest.Conformance(t, p)
	}
}

func TestPowerAdapter(t *testing.T) {
	ctx := t.Context()
	for _, inverted := range []bool{false, true} {
		f := &Fake{N: 2}
		p := relay.Power{Relay: f, Channel: 2, Inverted: inverted}
		if err := p.On(ctx); err != nil {
			t.Fatal(err)
		}
		if s, _ := p.State(ctx); s != dut.PowerOn {
			t.Errorf("inverted=%v: State after On = %s", inverted, s)
		}
		if closed, _ := f.State(ctx, 2); closed == inverted {
			t.Errorf("inverted=%v: relay closed=%v after On", inverted, closed)
		}
		if err := p.Off(ctx); err != nil {
			t.Fatal(err)
		}
		if s, _ := p.State(ctx); s != dut.PowerOff {
			t.Errorf("inverted=%v: State after Off = %s", inverted, s)
		}
	}
	if err := (relay.Power{Relay: &Fake{N: 1}, Channel: 3}).On(ctx); err == nil {
		t.Error("On through a missing channel succeeded")
	}
}
