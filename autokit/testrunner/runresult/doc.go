// Package runresult is what a testrunner run hands back to the job that
// asked for it: the container's output as a job log shows it (GroupWriter:
// one log group per top-level test, workflow commands stopped), its
// reports (ExtractReports: a tar unpacked safely into a directory), and an
// InfraError when the container ran but said nothing about the tests.
//
// It is the job's side of package testrunner, kept apart so that what the
// job links (the action, `leviathan run`) needs neither the Docker Engine's
// client nor the worker.
package runresult
