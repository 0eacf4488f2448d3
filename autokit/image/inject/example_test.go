package inject_test

import (
	"fmt"
	"io"
	"os"

	"github.com/balena/leviathan-action/autokit/image/inject"
)

// Write config.json into an image's boot partition while copying it: the
// copy is the configured image, the original is untouched.
func Example() {
	src, err := os.Open("balena.img")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	dst, err := os.Create("balena-configured.img")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dst.Close()
	r := inject.New(src, []inject.File{{Name: "config.json", Data: []byte(`{"hostname":"dut"}`)}})
	if _, err := io.Copy(dst, r); err != nil {
		fmt.Println(err) // nothing half-done: delete dst
		return
	}
	p, _ := r.Partition()
	fmt.Printf("wrote config.json into partition %d; the original image's sha256 is %s\n", p.Index, r.InputSHA256())
}
