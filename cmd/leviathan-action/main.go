// Command leviathan-action is the entrypoint of the balena/leviathan-action
// GitHub Action (submit, test and report modes); see action.yml and
// docs/action.md.
//
// It first re-executes itself without the credentials in its environment
// (package internal/sealenv; actioncmd.SecretVars lists them), so that the
// suites it starts cannot read them from its /proc/PID/environ.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/balena/leviathan-action/action/actioncmd"
	"github.com/balena/leviathan-action/internal/sealenv"
)

func main() {
	level := slog.LevelInfo
	if os.Getenv("RUNNER_DEBUG") == "1" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	env, err := sealenv.Seal(sealenv.Options{Names: actioncmd.SecretVars(), Log: log})
	if err != nil {
		// Running on would leave the secrets readable by the suites.
		fmt.Fprintf(os.Stdout, "::error::leviathan-action: %v (set %s=off to run with them in the environment, readable by every process of this user)\n", err, sealenv.OffVar)
		os.Exit(actioncmd.ExitError)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := actioncmd.Env{Stdout: os.Stdout, Stderr: os.Stderr, Args: os.Args[1:],
		Getenv: env.Getenv, Tester: probeTester(env.Getenv)}.Execute(ctx)
	stop()
	os.Exit(code)
}
