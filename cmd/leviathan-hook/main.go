// Command leviathan-hook is a Leviathan testbot's GitHub runner hook: run
// "leviathan-hook help" or see the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/balena/leviathan-action/runner-hook/hookcmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := hookcmd.Env{Stdout: os.Stdout, Stderr: os.Stderr, Args: os.Args[1:]}.Execute(ctx)
	stop()
	os.Exit(code)
}
