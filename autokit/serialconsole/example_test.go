package serialconsole_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/serialconsole"
)

// Run a command over the serial console when the DUT's network is down.
// SERIAL=/dev/serial/by-id/usb-FTDI_…-if00-port0 SERIAL_LOG=serial.log
func ExamplePort_Exec() {
	var capture dut.Capture
	port, err := serialconsole.OpenEnv(os.Getenv, &capture)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer port.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, code, err := port.Exec(ctx, "ip -br addr")
	fmt.Println(out, code, err)
}
