package bootpart_test

import (
	"fmt"
	"os"

	"github.com/balena/leviathan-action/autokit/bootpart"
)

// Put an SSH key into a flashed image's config.json before booting it.
func Example() {
	f, err := os.OpenFile("balena.img", os.O_RDWR, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	cfg, err := bootpart.ReadFile(f, "/config.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("config.json has %d bytes\n", len(cfg))
	err = bootpart.WriteFile(f, "/config.json", []byte(`{"hostname":"dut","os":{"sshKeys":["ssh-ed25519 AAAA..."]}}`))
	if err != nil {
		fmt.Println(err)
	}
}
