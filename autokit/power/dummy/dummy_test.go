package dummy

import (
	"context"
	"errors"
	"testing"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/power/powertest"
)

func TestConformance(t *testing.T) {
	powertest.Conformance(t, New())
	d, err := FromConfig(Config{Initial: "on"})
	if err != nil {
		t.Fatal(err)
	}
	powertest.Conformance(t, d)
}

func TestSetError(t *testing.T) {
	d := New()
	boom := errors.New("relay board unplugged")
	d.SetError(boom)
	if err := d.On(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("On = %v", err)
	}
	d.SetError(nil)
	d.Set(dut.PowerOn)
	if s, err := d.State(context.Background()); err != nil || s != dut.PowerOn {
		t.Fatalf("State = %v, %v", s, err)
	}
}

func TestFromConfigRejects(t *testing.T) {
	if _, err := FromConfig(Config{Initial: "maybe"}); err == nil {
		t.Fatal("accepted initial state maybe")
	}
}
