// Command leviathan-action is the entrypoint of the balena/leviathan-action
// GitHub Action (submit, test and report modes); see action.yml and
// docs/action.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/balena/leviathan-action/action/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Args: os.Args[1:]}.Execute(ctx)
	stop()
	os.Exit(code)
}
