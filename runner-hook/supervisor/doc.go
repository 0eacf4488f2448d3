// Package supervisor runs a GitHub self-hosted runner as an ephemeral,
// one-job runner, over and over, and checks that a runner's install
// cannot be changed by the user its jobs run as.
//
// Supervisor.Run loops: it asks GitHub for a just-in-time runner
// configuration (Registrar; GitHub implements it with the REST endpoint
// POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig or its
// organisation variant) under a fresh name with the runner's labels,
// starts the runner's run.sh as the runner's user, waits for it to exit
// after its one job, then kills every process left running as that user
// (KillUser), empties the runner's work directory and the user's home,
// removes the user's files from the temporary directories and the user's
// crontab and systemd linger flag, and starts over. No process and no file
// a job leaves behind meets the next job. It must run as root; the runner's
// user must be a user of its own (not root, not in the hook's group, not in
// the docker group).
//
// The configuration reaches the runner through the environment variable
// ACTIONS_RUNNER_INPUT_JITCONFIG, which the runner reads as its --jitconfig
// argument and removes from its environment: a command line is readable by
// every local user (ps), an environment only by the same user and root.
//
// Registration errors are retried with capped exponential backoff
// (1s doubling to 5m); bad credentials (401), missing permissions (403),
// an unknown repository (404) and a refused request (422) say what to fix
// and are retried at the longest wait, so a corrected credential file is
// picked up without a restart when the caller re-reads it.
//
// CheckRunner reports what in a runner's install the runner's user can
// change — the directory and every directory above it, .env, bin/,
// externals/, the scripts — apart from the work and diagnostics
// directories and the files a just-in-time runner writes at every start
// (.runner, .credentials, .credentials_rsaparams, run-helper.sh), which
// the supervisor resets before each run.
//
// Limits: Linux only (it reads /proc). Permissions are judged from owners
// and mode bits; ACLs and capabilities are not read. A runner that never
// received a job when the supervisor stops stays registered (offline)
// until GitHub removes it.
package supervisor
