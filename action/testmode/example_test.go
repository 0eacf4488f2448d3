package testmode_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/action/testmode"
)

// The action's test step on a hooked testbot: the hook's lease, worker and
// job directory come from the environment; the image is submit's artifact.
func Example() {
	ac, err := artifact.NewFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	o := testmode.FromEnv(testmode.Options{
		Source:    testmode.Source{Artifact: "os-image", Member: "balena.img.zst"},
		SHA256:    os.Getenv("IMAGE_SHA256"),
		Suites:    []string{"os"},
		Env:       []string{"API_KEY=" + os.Getenv("API_KEY")},
		AllowEnv:  []string{"API_KEY"},
		Artifacts: ac,
		Out:       os.Stdout,
	}, os.Getenv)
	for _, v := range o.Mask() {
		fmt.Printf("::add-mask::%s\n", v)
	}
	res, err := testmode.Run(context.Background(), o)
	if err != nil {
		log.Fatal(err) // the run did not complete; the DUT is off
	}
	if !res.OK() {
		os.Exit(1) // tests failed; res.JUnit has the details
	}
}
