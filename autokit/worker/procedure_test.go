package worker_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/procedure"
	"github.com/balena/leviathan-action/autokit/sdmux"
	"github.com/balena/leviathan-action/autokit/worker"
)

// flasherProcedure is a flasher image's procedure: write, boot it, wait
// for it to power down after installing, switch off.
const flasherProcedure = `device-types: [fake]
steps:
  - power-off
  - flash
  - power-on
  - wait-power-down: {serial: 'reboot: Power down', timeout: 2s}
  - power-off
`

func parseProcedure(t *testing.T, text string) *procedure.Procedure {
	t.Helper()
	p, err := procedure.Parse("flasher.yaml", []byte(text), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFlashRunsTheProcedure(t *testing.T) {
	img := duttest.GPTImage(2 << 20)
	tests := []struct {
		name     string
		powerOn  func(t *testing.T, d *duttest.DUT) // what the "flasher" prints once on
		wantErr  int                                // HTTP status, 0 for success
		wantText []string
		body     []byte
	}{
		{
			name:    "flasher powers down",
			powerOn: func(t *testing.T, d *duttest.DUT) { d.Print("installing to eMMC\nreboot: Power down\n") },
			body:    img,
		},
		{
			name:     "flasher never powers down",
			powerOn:  func(t *testing.T, d *duttest.DUT) { d.Print("installing to eMMC\nerror: no eMMC found\n") },
			wantErr:  http.StatusBadGateway,
			wantText: []string{`flashing procedure "flasher"`, "step 4", "wait-power-down", "no eMMC found", "powered off"},
			body:     img,
		},
		{
			name:     "the image is bad",
			powerOn:  func(t *testing.T, d *duttest.DUT) { t.Error("a DUT with a bad image was powered on") },
			wantErr:  http.StatusUnprocessableEntity,
			wantText: []string{"step 2", "flash", "not a disk image"},
			body:     bytes.Repeat([]byte("not an image"), 1000),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, worker.WithProcedure(parseProcedure(t, flasherProcedure), procedure.Devices{}))
			e.d.OnPowerOn(func() { tc.powerOn(t, e.d) })
			c := e.leased(t)
			ctx := ctxT(t, 20*time.Second)
			res, err := c.Flash(ctx, bytes.NewReader(tc.body), int64(len(tc.body)), "", nil)
			if st, serr := e.d.State(ctx); serr != nil || st != dut.PowerOff {
				t.Errorf("after the flash the DUT is %s (%v); want off", st, serr)
			}
			st, serr := c.FlashStatus(ctx)
			if serr != nil {
				t.Fatal(serr)
			}
			if tc.wantErr != 0 {
				wantStatus(t, err, tc.wantErr, tc.wantText...)
				if st.State != api.FlashFailed {
					t.Errorf("flash state %q; want failed", st.State)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.SHA256 != hexSHA(img) || res.Duration <= 0 {
				t.Errorf("result = %+v", res)
			}
			if e.d.PowerOns() != 1 {
				t.Errorf("the DUT was powered on %d times; want once, for the flasher", e.d.PowerOns())
			}
			got, err := os.ReadFile(e.d.Disk())
			if err != nil || !bytes.Equal(got, img) {
				t.Fatalf("the disk does not hold the image (%d bytes, %v)", len(got), err)
			}
			if st.State != api.FlashDone {
				t.Errorf("flash state %q; want done", st.State)
			}
		})
	}
}

func TestFlashProcedureWithoutStorage(t *testing.T) {
	// A DUT with no storage capability and a procedure whose flash step
	// needs one: the error names what is missing and the DUT ends off.
	e := newEnvFor(t, func(d *duttest.DUT) dut.DUT { return bareDUT{d} },
		worker.WithProcedure(parseProcedure(t, flasherProcedure), procedure.Devices{}))
	c := e.leased(t)
	ctx := ctxT(t, 10*time.Second)
	img := duttest.GPTImage(1 << 20)
	_, err := c.Flash(ctx, bytes.NewReader(img), int64(len(img)), "", nil)
	wantStatus(t, err, http.StatusBadGateway, "flash needs the DUT's storage")
	if st, _ := e.d.State(ctx); st != dut.PowerOff {
		t.Errorf("the DUT is %s; want off", st)
	}
}

func TestFlashProcedureTwoFlashSteps(t *testing.T) {
	p := parseProcedure(t, "device-types: [fake]\nsteps: [power-off, flash, flash]\n")
	e := newEnv(t, worker.WithProcedure(p, procedure.Devices{}))
	c := e.leased(t)
	img := duttest.GPTImage(1 << 20)
	_, err := c.Flash(ctxT(t, 10*time.Second), bytes.NewReader(img), int64(len(img)), "", nil)
	wantStatus(t, err, http.StatusBadGateway, "step 3", "a procedure flashes once")
}

// muxRecorder records the mux switches a procedure makes.
type muxRecorder struct{ sides []sdmux.Side }

func (m *muxRecorder) Switch(ctx context.Context, to sdmux.Side) error {
	m.sides = append(m.sides, to)
	return nil
}

func TestFlashBuiltinFlasherProcedure(t *testing.T) {
	// The built-in flasher ends by handing the card to the testbot, so
	// the board boots from its internal storage next; devs supplies the
	// mux the DUT itself does not offer.
	p := parseProcedure(t, "device-types: [fake]\nprocedure: flasher\npower-down:\n  serial: 'reboot: Power down'\n  timeout: 2s\n")
	mux := &muxRecorder{}
	e := newEnv(t, worker.WithProcedure(p, procedure.Devices{Mux: mux}))
	e.d.OnPowerOn(func() { e.d.Print("reboot: Power down\n") })
	c := e.leased(t)
	img := duttest.GPTImage(1 << 20)
	if _, err := c.Flash(ctxT(t, 10*time.Second), bytes.NewReader(img), int64(len(img)), "", nil); err != nil {
		t.Fatal(err)
	}
	if len(mux.sides) != 1 || mux.sides[0] != sdmux.Host {
		t.Errorf("mux switched to %v; want once to the host", mux.sides)
	}
}
