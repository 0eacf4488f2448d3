package relaytest

import (
	"testing"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/relay"
)

func TestFake(t *testing.T) { Conformance(t, &Fake{N: 4}, 4) }

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
