package power_test

import (
	"context"
	"fmt"
	"os"

	"github.com/balena/leviathan-action/autokit/power"
)

// Choose the power driver from the process environment, as `leviathan
// worker` does, and switch the DUT off.
func Example() {
	p, err := power.Open(os.Getenv)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := p.Off(context.Background()); err != nil {
		fmt.Println(err)
	}
}

// A dry run without hardware: POWER=dummy.
func ExampleOpen() {
	env := map[string]string{"POWER": "dummy", "POWER_INITIAL": "on"}
	p, err := power.Open(func(k string) string { return env[k] })
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	s, _ := p.State(ctx)
	fmt.Println("before:", s)
	p.Off(ctx)
	s, _ = p.State(ctx)
	fmt.Println("after:", s)
	// Output:
	// before: on
	// after: off
}

// An unknown driver name lists the allowed ones.
func ExampleOpen_unknown() {
	_, err := power.Open(func(k string) string { return map[string]string{"POWER": "apc"}[k] })
	fmt.Println(err)
	// Output:
	// power: unknown POWER="apc"; one of: button, dli, dummy, pdudaemon, relay, shelly, tasmota
}
