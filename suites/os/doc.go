// Package ossuite is the built-in suite for the Leviathan test OS image
// (qemukit/testimage): boot, identity, configuration, SSH, network,
// storage, power and console. It is an ordinary Go test package run
// against a worker; see suites/sdk.
package ossuite
