// Command leviathan-hook is a Leviathan testbot's GitHub runner hook, its
// installer and the supervisor of ephemeral runners: run "leviathan-hook
// help" or see the README. Installed, it is setgid to the hook's group and
// reads its settings from a file whose path is compiled in
// (runner-hook/hook.ConfigFile; make install-runner-hook HOOK_CONFIG=…).
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
