// Package testbot is one run on a testbot, the part that the action's test
// mode and `leviathan run` share: lease the DUT (or use the runner hook's
// lease), flash an image, boot the DUT, run the suites — directly, as Go
// test binaries, or in the testrunner container the worker starts —
// collect the reports and release the lease.
//
// The data travels forward once: the image streams from its source through
// a head check (a partition table after decompression, so a wrong file
// fails before the DUT's storage is touched) into the worker's flash
// upload; the results come back as reports in Options.ReportDir
// (junit.xml, summary.json, per-test logs, serial.log).
//
// A run takes its own lease when Options.Lease is empty: it keeps the
// lease alive, stops with ErrLeaseLost when the worker drops it, and
// releases it on every path, which powers the DUT off. A lease the runner
// hook took is used and never released (job-completed does that). On every
// error path the DUT is powered off, and summary.json names the stage that
// failed, so a failed run is never read as an earlier run's success.
//
// What a caller adds is where the image and the suites come from: the
// action's test mode opens artifacts and resolves built-in, workspace and
// artifact suites (package action/testmode); `leviathan run` builds the test
// OS image and starts a QEMU DUT behind a worker on loopback (package
// internal/localrun).
package testbot
