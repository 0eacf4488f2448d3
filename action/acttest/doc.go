// Package acttest runs the action as users do, in a real workflow engine:
// act (nektos/act, through tools/cmd/act-run) in host mode runs
// testdata/workflow.yml — submit, test on a QEMU DUT, report — with every
// Leviathan step `uses: ./`, against act's artifact server
// (action/artifact/artifacttest) and the fake GitHub (action/githubtest),
// which checks every request against GitHub's API description.
//
// The package holds only that test. It plays the testbot's part itself: a
// local QEMU testbot (internal/localrun), the lease and LEVIATHAN_*
// variables the runner hook would export, and job-completed's release.
//
// Limits: the jobs run as processes of this host (act's -self-hosted
// platform), all on one runner; the suites run directly, not in the
// testrunner container (no Docker Engine needed); act's actions/checkout
// copies the workspace, whose entries are symbolic links to this
// repository plus the workspace suite (testdata/workspace). The test is
// skipped under -short, without QEMU, or when tools/ cannot be built.
package acttest
