package duttest_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/image"
)

func TestFakeStorage(t *testing.T) {
	ctx := context.Background()
	d := duttest.New(t)
	if err := d.On(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(ctx); !errors.Is(err, dut.ErrPoweredOn) {
		t.Fatalf("Open while on = %v; want ErrPoweredOn", err)
	}
	d.Off(ctx)
	tg, err := d.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if z, ok := tg.(dut.Zeroed); !ok || !z.Zeroed() {
		t.Fatal("a freshly opened fake disk should read back zeros")
	}
	if err := d.On(ctx); err == nil {
		t.Fatal("powered on while the testbot holds the storage")
	}
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.On(ctx); err != nil || d.PowerOns() != 2 {
		t.Fatalf("On = %v, %d power-ons", err, d.PowerOns())
	}
}

func TestGPTImageIsADiskImage(t *testing.T) {
	for _, size := range []int{0, 64 << 10, 3<<20 + 512} {
		img := duttest.GPTImage(size)
		if len(img) < size || !image.IsDiskImage(img) || string(img[512:520]) != "EFI PART" {
			t.Errorf("GPTImage(%d): %d bytes, not recognised as a GPT disk image", size, len(img))
		}
	}
}

func TestCapabilities(t *testing.T) {
	got := dut.Capabilities(duttest.New(t))
	want := []dut.Capability{dut.CapPower, dut.CapStorage, dut.CapConsole, dut.CapNetwork, dut.CapScreen, dut.CapKeyboard}
	if !slices.Equal(got, want) {
		t.Fatalf("capabilities %v; want %v", got, want)
	}
}
