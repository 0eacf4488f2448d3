package config_test

import (
	"fmt"
	"log"

	"github.com/sethvargo/go-githubactions"

	"github.com/balena/leviathan-action/action/config"
)

// Loading the step's configuration: mask its secrets before printing
// anything, then report every bad input at once.
func ExampleLoad() {
	action := githubactions.New()
	cfg, err := config.Load(action)
	for _, s := range cfg.Secrets() {
		action.AddMask(s)
	}
	if err != nil {
		log.Fatal(err) // each problem names its input
	}
	fmt.Println(cfg.Mode, cfg.Suites)
}
