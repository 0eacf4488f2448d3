// Command leviathan is the Leviathan CLI: run suites on a DUT, serve a DUT
// as a worker, build the test OS image, flash images.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/balena/leviathan-action/internal/leviathancmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := leviathancmd.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Args: os.Args[1:]}.Execute(ctx)
	stop()
	os.Exit(code)
}
