package hidgadget_test

import (
	"context"
	"fmt"

	"github.com/balena/leviathan-action/autokit/keyboard/hidgadget"
)

// The report a chord becomes: modifier bits, a reserved byte, six keys.
func ExampleReport() {
	r, _ := hidgadget.Report("ctrl", "alt", "delete")
	fmt.Printf("% x\n", r)
	_, err := hidgadget.Report("enter")
	fmt.Println(err)
	// Output:
	// 05 00 4c 00 00 00 00 00
	// hidgadget: unknown key "enter" (keys use QEMU's QKeyCode names); did you mean ret, kp_enter?
}

// Enter the firmware setup on a board that boots from a USB gadget's host.
func ExampleGadget_Press() {
	g, err := hidgadget.Open(hidgadget.Config{Device: "/dev/hidg0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer g.Close()
	ctx := context.Background()
	for range 10 {
		if err := g.Press(ctx, "f2"); err != nil {
			fmt.Println(err)
			return
		}
	}
}
