package mdns_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/balena/leviathan-action/autokit/network/mdns"
)

// Resolve asks on the testbot's DUT-facing interface for the DUT's
// host name as its avahi publishes it.
func ExampleResolve() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ip, err := mdns.Resolve(ctx, "eth1", "balena.local")
	if err != nil {
		log.Fatal(err) // mdns: no mDNS answer for balena.local on eth1 within 10s …
	}
	fmt.Println("the DUT is at", ip)
}
