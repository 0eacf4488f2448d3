//go:build !leviathan_probe

package main

import "github.com/balena/leviathan-action/action/cli"

// probeTester is nil: the test hook exists only in binaries built with
// -tags leviathan_probe (see probe.go).
func probeTester(func(string) string) cli.Tester { return nil }
