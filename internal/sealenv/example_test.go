package sealenv_test

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/balena/leviathan-action/internal/sealenv"
)

// A command seals its tokens first thing in main, then reads them
// through env.Getenv only; its children cannot find them in its
// /proc/PID/environ.
func Example() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	env, err := sealenv.Seal(sealenv.Options{Names: []string{"INPUT_GITHUB_TOKEN"}, Log: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	token := env.Getenv("INPUT_GITHUB_TOKEN")
	_ = token
}
