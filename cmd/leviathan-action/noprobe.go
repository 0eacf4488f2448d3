//go:build !leviathan_probe

package main

import "github.com/balena/leviathan-action/action/actioncmd"

// probeTester is nil: the test hook exists only in binaries built with
// -tags leviathan_probe (see probe.go).
func probeTester(func(string) string) actioncmd.Tester { return nil }
