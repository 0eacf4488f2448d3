package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
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

// Switching on the worker's error codes, not on its words.
func ExampleIsCode() {
	ctx := context.Background()
	c, err := client.New("http://127.0.0.1:8080")
	if err != nil {
		log.Fatal(err)
	}
	img, err := os.Open("balena.img.gz")
	if err != nil {
		return
	}
	defer img.Close()
	_, err = c.Flash(ctx, img, 0, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", nil)
	switch {
	case err == nil:
	case client.IsCode(err, api.CodeChecksumMismatch):
		log.Fatal("the image is not the one whose SHA-256 was given: ", err)
	case client.IsCode(err, api.CodeLeaseRequired, api.CodeLeaseStale):
		log.Fatal("take a lease first: ", err)
	default:
		log.Fatalf("flash failed (%s): %v", client.ErrorCode(err), err)
	}
}
