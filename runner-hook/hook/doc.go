// Package hook is the testbot's side of a GitHub Actions job: what the
// self-hosted runner's job-started and job-completed hooks do around every
// job that may touch the DUT.
//
// JobStarted runs the policy gate, leases the DUT for the job (cleaning a
// stale lease left by a job that died), checks the worker's and the DUT's
// health, pulls the testrunner image, starts a heartbeat process that keeps
// the lease alive for as long as the runner's job process lives, and
// exports the worker URL, lease and image to the job's later steps through
// GITHUB_ENV. JobCompleted always runs after the job: it removes the job's
// containers, collects the serial log and reports, releases the lease
// (which powers the DUT off), stops the heartbeat, cleans the job's
// temporary files and records the DUT's health figures.
//
// The dead-man's switch: when the runner dies without job-completed (killed,
// machine rebooted), the heartbeat process sees the runner's job process
// gone and stops renewing; the worker lets the lease expire, powers the DUT
// off and runs its lease-end clean-up (leviathan worker --docker-cleanup
// removes the job's containers). The next job-started cleans what is left
// and health-checks the DUT before use.
//
// Limits: one DUT (one worker) per runner; state lives in one directory
// per runner (Config.StateDir) and is guarded by a file lock. The hook
// trusts the event payload the runner wrote (GITHUB_EVENT_PATH); it never
// sees a GITHUB_TOKEN.
package hook
