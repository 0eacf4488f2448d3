package api

// The environment a testbot job runs in: the runner hook exports these to
// the job, the action reads them, the worker passes the first two to the
// testrunner container and the suites read them through package sdk. They
// are declared here only; every other package uses these names.
const (
	// EnvWorkerURL is the worker's base URL.
	EnvWorkerURL = "LEVIATHAN_WORKER_URL"
	// EnvLease is the job's lease id: the lease it drives and, on a
	// worker with a token, its only credential.
	EnvLease = "LEVIATHAN_LEASE"
	// EnvWorkerToken is the worker's admin token. Only the testbot's
	// administrator (the hook, `leviathan worker`) holds it; a job never
	// does.
	EnvWorkerToken = "LEVIATHAN_WORKER_TOKEN"
	// EnvTestrunnerImage is the testrunner image, by digest.
	EnvTestrunnerImage = "LEVIATHAN_TESTRUNNER_IMAGE"
	// EnvJobDir is the job's private directory on the testbot; its
	// reports subdirectory outlives the job.
	EnvJobDir = "LEVIATHAN_JOB_DIR"
	// EnvWorkerListen is the address `leviathan worker` serves on.
	EnvWorkerListen = "LEVIATHAN_WORKER_LISTEN"
	// EnvPrefix starts every variable of Leviathan's own; a job's
	// settings (the action's env input) may not use it.
	EnvPrefix = "LEVIATHAN_"
)
