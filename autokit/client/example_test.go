package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/balena/leviathan-action/autokit/client"
)

// A suite's typical session: lease, flash, boot, run a command, tear down.
func Example() {
	ctx := context.Background()
	c, err := client.New("http://127.0.0.1:8080", client.WithToken(os.Getenv("LEVIATHAN_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	lease, err := c.Lease(ctx, "my-suite", 2*time.Minute)
	if err != nil {
		log.Fatal(err) // a *client.Error with status 409 names the holder
	}
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	c.KeepAlive(kctx, lease, 0)
	defer c.Teardown(ctx)

	img, err := os.Open("balena.img.gz")
	if err != nil {
		log.Fatal(err)
	}
	defer img.Close()
	if _, err := c.Flash(ctx, img, 0, "", nil); err != nil {
		log.Fatal(err)
	}
	if err := c.PowerOn(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := c.WaitOnline(ctx, 5*time.Minute); err != nil {
		log.Fatal(err) // carries the last console lines
	}
	out, _, err := c.ExecOutput(ctx, "uname -r")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(out)
}
